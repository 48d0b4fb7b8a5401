// WordPiece (BERT): normalize (first code point of NFD, drop controls, lower-case), split on
// whitespace, punctuation, ASCII symbols and CJK characters, then match each word greedily
// longest-first; a word that cannot be covered becomes one [UNK]. Word-initial pieces carry a
// U+2581 prefix in GGUF vocabularies; continuation pieces are bare.
#include <algorithm>

#include "engine/tokenizer.h"
#include "engine/unicode.h"

namespace keel::engine {

namespace {

bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

void Tokenizer::encode_wpm(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  for (uint32_t cp : utf8_to_codepoints(text)) {
    uint32_t c = nfd_first(cp);
    if (is_whitespace(c)) {
      flush();
      continue;
    }
    CharClass cls = char_class(c);
    if (c == 0 || c == 0xFFFD || cls == CharClass::control) continue;
    c = to_lower(c);
    cls = char_class(c);
    if (cls == CharClass::punctuation || (c < 0x7F && cls == CharClass::symbol) || is_cjk(c)) {
      flush();
      append_utf8(c, current);
      flush();
      continue;
    }
    append_utf8(c, current);
  }
  flush();

  const size_t max_len = vocab_.max_token_bytes();
  std::vector<TokenId> pieces;
  for (const std::string& w : words) {
    std::string word = "\xE2\x96\x81" + w;
    pieces.clear();
    size_t i = 0;
    bool covered = true;
    while (i < word.size()) {
      bool matched = false;
      for (size_t j = std::min(word.size(), i + max_len + 1); j > i; --j) {
        if (auto id = vocab_.find(std::string_view(word).substr(i, j - i))) {
          pieces.push_back(*id);
          i = j;
          matched = true;
          break;
        }
      }
      if (!matched) {
        covered = false;
        break;
      }
    }
    if (covered && !pieces.empty()) {
      out.insert(out.end(), pieces.begin(), pieces.end());
    } else if (vocab_.unk() != kNoToken) {
      out.push_back(vocab_.unk());
    }
  }
}

}  // namespace keel::engine
