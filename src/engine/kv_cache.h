// The key/value cache, laid out in fixed-size blocks of token slots so sequences can share
// prefix blocks: a sequence owns a block table (block ids in order), blocks are reference
// counted and return to a free list when the last holder releases them.
//
// Contract:
// - Storage per layer is [block][kv head][slot][head_dim] in F16 (default) or Q8_0 (rows of
//   head_dim quantized in blocks of 32). Everything is allocated at construction.
// - allocate() returns -1 when no block is free (the caller decides: evict, preempt or refuse).
// - Not thread-safe for allocation; rows of distinct (layer, block, slot) may be written from
//   different threads.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model_config.h"

namespace keel::engine {

enum class KvCacheType { f16, q8_0 };

struct KvCacheOptions {
  int64_t n_blocks = 0;
  int64_t block_size = 16;  //!< token slots per block
  KvCacheType type = KvCacheType::f16;
};

class KvCache {
 public:
  KvCache(const ModelConfig& config, const KvCacheOptions& options);

  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  KvCacheType type() const { return type_; }
  //! Bytes of K and V storage.
  size_t bytes() const;
  static size_t bytes_for(const ModelConfig& config, int64_t n_tokens, KvCacheType type);

  int32_t allocate();
  void retain(int32_t block);
  void release(int32_t block);
  int32_t refcount(int32_t block) const { return refcounts_[block]; }

  //! Stores one token's keys and values (kv_dim floats each) in (block, slot) of a layer.
  void store(int64_t layer, int32_t block, int64_t slot, const float* k, const float* v);
  //! Bytes of one stored row (head_dim values) and a pointer to it.
  size_t row_bytes() const { return row_bytes_; }
  const uint8_t* key_row(int64_t layer, int32_t block, int64_t head, int64_t slot) const;
  const uint8_t* value_row(int64_t layer, int32_t block, int64_t head, int64_t slot) const;

 private:
  size_t offset(int32_t block, int64_t head, int64_t slot) const;
  int64_t n_layer_, n_head_kv_, head_dim_, block_size_, n_blocks_;
  KvCacheType type_;
  size_t row_bytes_;
  std::vector<std::vector<uint8_t>> keys_, values_;  // per layer
  std::vector<int32_t> refcounts_;
  std::vector<int32_t> free_;
};

}  // namespace keel::engine
