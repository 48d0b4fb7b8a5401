// Byte-level BPE (GPT-2 style): split text with the pre-tokenizer regexes, map each byte to its
// printable code point, then repeatedly merge the adjacent pair with the lowest merge rank
// (ties: leftmost). llama3-family vocabularies look whole pre-tokens up first.
#include <queue>

#include "engine/tokenizer.h"
#include "engine/unicode.h"

namespace keel::engine {

namespace {

struct Symbol {
  int prev;
  int next;
  const char* text;
  size_t n;
};

struct Bigram {
  int left;
  int right;
  int rank;
  size_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::encode_bpe(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<uint32_t> cps = utf8_to_codepoints(text);
  std::string word;
  for (const Segment& s : regex_split(cps, pre_regex_ptrs_)) {
    word.clear();
    std::string raw = codepoints_to_utf8(cps.data() + s.offset, s.length);
    for (unsigned char byte : raw) word += byte_to_unicode_[byte];
    emit_bpe_word(word, out);
  }
}

void Tokenizer::emit_bpe_word(std::string_view word, std::vector<TokenId>& out) const {
  if (vocab_.ignore_merges()) {
    if (auto id = vocab_.find(word)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    size_t len = std::min(word.size() - offset, utf8_length_from_lead(static_cast<uint8_t>(word[offset])));
    int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, word.data() + offset, len});
    offset += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    int rank = vocab_.merge_rank(std::string_view(symbols[left].text, symbols[left].n),
                                 std::string_view(symbols[right].text, symbols[right].n));
    if (rank >= 0) queue.push({left, right, rank, symbols[left].n + symbols[right].n});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;  // stale
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    std::string_view piece(symbols[i].text, symbols[i].n);
    if (auto id = vocab_.find(piece)) {
      out.push_back(*id);
      continue;
    }
    // Not in the vocabulary: single-byte tokens where they exist (as llama.cpp does).
    for (char byte : piece) {
      if (auto id = vocab_.find(std::string_view(&byte, 1))) out.push_back(*id);
    }
  }
}

}  // namespace keel::engine
