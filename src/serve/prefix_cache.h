// Prefix reuse for the KV cache: full blocks of a sequence are remembered by a hash chain of
// their token ids (block i's key covers tokens 0..(i+1)*block_size), so a later request whose
// prompt starts with the same tokens adopts those blocks without computing them again.
//
// Contract:
// - The cache holds one reference to each block it remembers; sequences that adopt a block
//   hold their own. A block only the cache holds is evictable, least recently used first.
// - Keys are verified against the stored token ids, so a hash collision can never hand a
//   sequence another prompt's keys and values.
// - Single-threaded: used by the scheduler's thread only.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/vocab.h"

namespace keel::serve {

class PrefixCache {
 public:
  PrefixCache(engine::KvCache& kv, int64_t block_size) : kv_(kv), block_size_(block_size) {}
  ~PrefixCache();

  //! Chained keys of every full block of `tokens`.
  std::vector<uint64_t> block_keys(std::span<const engine::TokenId> tokens) const;

  //! The cached blocks that start `tokens` (longest run from the first block). Marks them used.
  std::vector<int32_t> lookup(std::span<const engine::TokenId> tokens);

  //! Remembers the full blocks of a sequence (`blocks[i]` holds tokens of block i).
  void insert(std::span<const engine::TokenId> tokens, std::span<const int32_t> blocks);

  //! Releases up to n evictable blocks, oldest use first; returns how many.
  int64_t evict(int64_t n);

  int64_t cached_blocks() const { return static_cast<int64_t>(entries_.size()); }
  int64_t evictable_blocks() const;

 private:
  struct Entry {
    int32_t block;
    std::vector<engine::TokenId> tokens;  // this block's tokens, to verify a hit
    uint64_t parent;                      // key of the previous block (0 for the first)
    std::list<uint64_t>::iterator lru;
  };
  engine::KvCache& kv_;
  int64_t block_size_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> lru_;  // front: least recently used
};

}  // namespace keel::serve
