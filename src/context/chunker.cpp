#include "context/chunker.h"

#include <algorithm>

namespace keel::context {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f'; }

// Moves `pos` back to the start of the UTF-8 character it is in.
uint64_t char_boundary(std::string_view text, uint64_t pos) {
  while (pos > 0 && pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

// The best place to end a chunk that starts at `start`, between start+min and start+max.
uint64_t find_end(std::string_view text, uint64_t start, const ChunkOptions& o) {
  const uint64_t hard = std::min<uint64_t>(text.size(), start + o.max_bytes);
  if (hard == text.size()) return hard;
  const uint64_t soft = std::min<uint64_t>(hard, start + o.target_bytes);
  const uint64_t lowest = start + std::min(o.min_bytes, o.target_bytes);
  // Search backwards from the hard limit for a paragraph break, then a sentence end, then a
  // space; the one closest to the target wins within each kind.
  auto best_before = [&](auto is_break) -> uint64_t {
    uint64_t best = 0;
    for (uint64_t i = lowest; i < hard; ++i) {
      if (!is_break(i)) continue;
      if (best == 0 || (i <= soft ? soft - i : i - soft) < (best <= soft ? soft - best : best - soft)) best = i;
    }
    return best;
  };
  uint64_t end = best_before([&](uint64_t i) { return text[i] == '\n' && i + 1 < text.size() && text[i + 1] == '\n'; });
  if (end == 0) {
    end = best_before([&](uint64_t i) {
      return (text[i] == '.' || text[i] == '!' || text[i] == '?') && i + 1 < text.size() && is_space(text[i + 1]);
    });
    if (end) ++end;  // keep the full stop
  }
  if (end == 0) end = best_before([&](uint64_t i) { return is_space(text[i]); });
  if (end == 0) end = char_boundary(text, hard);
  if (end <= start) end = hard;
  return end;
}

}  // namespace

std::vector<ChunkRange> chunk_text(std::string_view text, const ChunkOptions& o) {
  std::vector<ChunkRange> out;
  uint64_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    if (pos >= text.size()) break;
    uint64_t end = find_end(text, pos, o);
    uint64_t trimmed = end;
    while (trimmed > pos && is_space(text[trimmed - 1])) --trimmed;
    // A short tail joins the previous chunk when the result stays within max_bytes.
    if (!out.empty() && end == text.size() && trimmed - pos < o.min_bytes &&
        trimmed - out.back().start <= o.max_bytes) {
      out.back().end = trimmed;
    } else if (trimmed > pos) {
      out.push_back({pos, trimmed});
    }
    pos = end;
  }
  return out;
}

std::vector<ChunkRange> chunk_pages(std::string_view text, const std::vector<PageRange>& pages,
                                    const ChunkOptions& options) {
  if (pages.empty()) return chunk_text(text, options);
  std::vector<ChunkRange> out;
  for (const PageRange& page : pages) {
    const uint64_t start = std::min<uint64_t>(page.start, text.size());
    const uint64_t end = std::min<uint64_t>(page.end, text.size());
    if (start >= end) continue;
    for (const ChunkRange& r : chunk_text(text.substr(start, end - start), options)) {
      out.push_back({start + r.start, start + r.end});
    }
  }
  return out;
}

}  // namespace keel::context
