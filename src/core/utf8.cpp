#include "core/utf8.h"

namespace keel {

namespace {

// Length of the well-formed sequence starting at text[i], or 0 if ill-formed (Unicode 15,
// table 3-7). `truncated` is set when the sequence is a valid prefix cut by the end of text.
size_t sequence_length(std::string_view text, size_t i, bool* truncated) {
  *truncated = false;
  auto b = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= text.size()) {
      *truncated = true;
      return 0;
    }
    unsigned char cont = b(i + k);
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (cont < l || cont > h) return 0;
  }
  return need;
}

}  // namespace

std::optional<size_t> first_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    bool truncated;
    size_t n = sequence_length(text, i, &truncated);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

std::string repair_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool truncated;
    size_t n = sequence_length(text, i, &truncated);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

size_t complete_utf8_prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    bool truncated;
    size_t n = sequence_length(text, i, &truncated);
    if (truncated) return i;
    i += n == 0 ? 1 : n;  // an ill-formed byte is complete: waiting will not fix it
  }
  return i;
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace keel
