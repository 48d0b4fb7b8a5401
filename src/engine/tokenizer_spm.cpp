// SentencePiece-style tokenization: start from UTF-8 characters and repeatedly merge the
// adjacent pair whose merged text is the highest-scoring vocabulary token (ties: leftmost);
// pieces left outside the vocabulary fall back to <0xXX> byte tokens.
#include <fmt/format.h>

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
  float score;
  size_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::encode_spm(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    size_t len = std::min(text.size() - offset, utf8_length_from_lead(static_cast<uint8_t>(text[offset])));
    int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, text.data() + offset, len});
    offset += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    std::string_view merged(symbols[left].text, symbols[left].n + symbols[right].n);
    if (auto id = vocab_.find(merged)) {
      queue.push({left, right, vocab_.score(*id), merged.size()});
    }
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
    for (unsigned char byte : piece) {
      auto id = vocab_.find(fmt::format("<0x{:02X}>", byte));
      if (!id) id = vocab_.find(std::string(1, static_cast<char>(byte)));
      if (id) {
        out.push_back(*id);
      } else if (vocab_.unk() != kNoToken) {
        out.push_back(vocab_.unk());
      }
    }
  }
}

}  // namespace keel::engine
