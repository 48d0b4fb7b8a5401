#include "engine/kv_cache.h"

#include <cassert>

#include "engine/quants.h"

namespace keel::engine {

namespace {

size_t row_bytes_for(int64_t head_dim, KvCacheType type) {
  return type == KvCacheType::f16 ? head_dim * 2 : *row_bytes(TensorType::q8_0, head_dim);
}

}  // namespace

KvCache::KvCache(const ModelConfig& config, const KvCacheOptions& options)
    : n_layer_(config.n_layer),
      n_head_kv_(config.n_head_kv),
      head_dim_(config.head_dim),
      block_size_(options.block_size),
      n_blocks_(options.n_blocks),
      type_(options.type),
      row_bytes_(row_bytes_for(config.head_dim, options.type)) {
  size_t per_layer = static_cast<size_t>(n_blocks_) * n_head_kv_ * block_size_ * row_bytes_;
  keys_.resize(n_layer_);
  values_.resize(n_layer_);
  for (int64_t l = 0; l < n_layer_; ++l) {
    keys_[l].assign(per_layer, 0);
    values_[l].assign(per_layer, 0);
  }
  refcounts_.assign(n_blocks_, 0);
  free_.reserve(n_blocks_);
  for (int64_t b = n_blocks_ - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

size_t KvCache::bytes() const {
  return 2 * static_cast<size_t>(n_layer_) * n_blocks_ * n_head_kv_ * block_size_ * row_bytes_;
}

size_t KvCache::bytes_for(const ModelConfig& config, int64_t n_tokens, KvCacheType type) {
  return 2 * static_cast<size_t>(config.n_layer) * n_tokens * config.n_head_kv *
         row_bytes_for(config.head_dim, type);
}

int32_t KvCache::allocate() {
  if (free_.empty()) return -1;
  int32_t b = free_.back();
  free_.pop_back();
  refcounts_[b] = 1;
  return b;
}

void KvCache::retain(int32_t block) {
  assert(refcounts_[block] > 0);
  ++refcounts_[block];
}

void KvCache::release(int32_t block) {
  assert(refcounts_[block] > 0);
  if (--refcounts_[block] == 0) free_.push_back(block);
}

size_t KvCache::offset(int32_t block, int64_t head, int64_t slot) const {
  return ((static_cast<size_t>(block) * n_head_kv_ + head) * block_size_ + slot) * row_bytes_;
}

void KvCache::store(int64_t layer, int32_t block, int64_t slot, const float* k, const float* v) {
  for (int64_t h = 0; h < n_head_kv_; ++h) {
    uint8_t* kd = keys_[layer].data() + offset(block, h, slot);
    uint8_t* vd = values_[layer].data() + offset(block, h, slot);
    TensorType t = type_ == KvCacheType::f16 ? TensorType::f16 : TensorType::q8_0;
    quantize_row(t, k + h * head_dim_, kd, head_dim_);
    quantize_row(t, v + h * head_dim_, vd, head_dim_);
  }
}

const uint8_t* KvCache::key_row(int64_t layer, int32_t block, int64_t head, int64_t slot) const {
  return keys_[layer].data() + offset(block, head, slot);
}

const uint8_t* KvCache::value_row(int64_t layer, int32_t block, int64_t head, int64_t slot) const {
  return values_[layer].data() + offset(block, head, slot);
}

}  // namespace keel::engine
