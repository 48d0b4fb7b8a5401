// Pre-tokenizer regexes: a small backtracking regex engine over code points, with the Unicode
// classes BPE pre-tokenizers use (\p{L}, \p{N}, \p{P}, \p{S}, \p{M}, \s), and the splitting
// rule llama.cpp applies to a list of them.
//
// Supported syntax: literals, \x{HHHH}, escapes (\s \S \d \D \r \n \t \f \v and escaped
// punctuation), classes [...] with ranges, negation and \p{..}/\s inside, groups (?:...) and
// (?i:...), alternation, quantifiers ? * + {n} {n,} {n,m} (greedy), lookahead (?=...) (?!...),
// anchors ^ $. Matching is ECMAScript-like: leftmost match, alternatives tried in order.
//
// Contract: compile errors are Status values naming the offset; matching never recurses
// deeper than the pattern's nesting (runs of single characters are matched iteratively), so
// long inputs cannot exhaust the stack.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::engine {

struct RegexNode;

class Regex {
 public:
  [[nodiscard]] static Result<Regex> compile(std::string_view pattern);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  //! Length of the match starting exactly at `pos` within cps[0, end), or -1.
  int64_t match_at(const uint32_t* cps, size_t end, size_t pos) const;

 private:
  Regex();
  std::unique_ptr<RegexNode> root_;
};

//! A piece of a code point sequence.
struct Segment {
  size_t offset;
  size_t length;
};

//! Applies each regex in turn: within each current segment, every match becomes a segment and
//! every unmatched gap stays one. Returns the final segments in order.
std::vector<Segment> regex_split(const std::vector<uint32_t>& cps, const std::vector<const Regex*>& regexes);

}  // namespace keel::engine
