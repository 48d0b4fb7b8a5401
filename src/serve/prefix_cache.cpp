#include "serve/prefix_cache.h"

#include <algorithm>

namespace keel::serve {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64-style combination: every token id changes every later key.
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace

PrefixCache::~PrefixCache() {
  for (auto& [key, e] : entries_) kv_.release(e.block);
}

std::vector<uint64_t> PrefixCache::block_keys(std::span<const engine::TokenId> tokens) const {
  std::vector<uint64_t> keys;
  uint64_t h = 0x6b65656c;  // "keel"
  const size_t full = tokens.size() / static_cast<size_t>(block_size_);
  for (size_t b = 0; b < full; ++b) {
    for (int64_t i = 0; i < block_size_; ++i) h = mix(h, static_cast<uint32_t>(tokens[b * block_size_ + i]));
    keys.push_back(h == 0 ? 1 : h);
  }
  return keys;
}

std::vector<int32_t> PrefixCache::lookup(std::span<const engine::TokenId> tokens) {
  std::vector<int32_t> blocks;
  auto keys = block_keys(tokens);
  for (size_t b = 0; b < keys.size(); ++b) {
    auto it = entries_.find(keys[b]);
    if (it == entries_.end()) break;
    auto expected = tokens.subspan(b * block_size_, block_size_);
    if (!std::equal(expected.begin(), expected.end(), it->second.tokens.begin())) break;
    lru_.splice(lru_.end(), lru_, it->second.lru);
    blocks.push_back(it->second.block);
  }
  return blocks;
}

void PrefixCache::insert(std::span<const engine::TokenId> tokens, std::span<const int32_t> blocks) {
  auto keys = block_keys(tokens);
  const size_t n = std::min(keys.size(), blocks.size());
  for (size_t b = 0; b < n; ++b) {
    auto it = entries_.find(keys[b]);
    if (it != entries_.end()) {
      lru_.splice(lru_.end(), lru_, it->second.lru);
      continue;
    }
    kv_.retain(blocks[b]);
    auto pos = lru_.insert(lru_.end(), keys[b]);
    auto span = tokens.subspan(b * block_size_, block_size_);
    entries_.emplace(keys[b], Entry{blocks[b], {span.begin(), span.end()}, b ? keys[b - 1] : 0, pos});
  }
}

int64_t PrefixCache::evict(int64_t n) {
  int64_t freed = 0;
  for (auto it = lru_.begin(); it != lru_.end() && freed < n;) {
    auto entry = entries_.find(*it);
    if (kv_.refcount(entry->second.block) == 1) {
      kv_.release(entry->second.block);
      entries_.erase(entry);
      it = lru_.erase(it);
      ++freed;
    } else {
      ++it;
    }
  }
  return freed;
}

int64_t PrefixCache::evictable_blocks() const {
  int64_t n = 0;
  for (const auto& [key, e] : entries_) n += kv_.refcount(e.block) == 1;
  return n;
}

}  // namespace keel::serve
