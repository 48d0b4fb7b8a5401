// A Context runs a Model: it owns the KV cache, the sequences that use it, the scratch memory
// of the forward pass and the compute threads.
//
// Contract:
// - All memory is allocated by create(); decode() and embed() allocate nothing per token.
// - decode(batch) runs one forward step over tokens of any number of sequences (prefill chunks
//   and decode tokens mixed). Each sequence's tokens must continue it: positions consecutive
//   from its current length. Logits are kept for the entries marked `logits`, in batch order.
//   A batch that cannot run (too large, unknown sequence, bad position, no free KV block) is
//   refused before anything changes.
// - Sequences share the cache by blocks (see kv_cache.h); remove_sequence() frees its blocks
//   at once.
// - A Context is used by one thread at a time.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "engine/compute_pool.h"
#include "engine/kv_cache.h"
#include "engine/matmul.h"
#include "engine/model.h"

namespace keel::engine {

struct ContextOptions {
  int64_t n_ctx = 2048;       //!< most tokens one sequence may hold
  int64_t n_batch = 256;      //!< most tokens one decode() may process
  int64_t n_seq_max = 1;      //!< sequences alive at once
  int64_t max_outputs = 0;    //!< logits rows one decode() may return; 0: n_seq_max
  int64_t kv_blocks = 0;      //!< 0: enough for n_seq_max full sequences
  int64_t kv_block_size = 16;
  KvCacheType kv_type = KvCacheType::f16;
  int n_threads = 0;          //!< 0: the machine's cores
};

struct BatchToken {
  TokenId token;
  int32_t seq;
  int64_t pos;
  bool logits;
};

class Context {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Context>> create(const Model& model,
                                                               const ContextOptions& options);
  //! Bytes create() will allocate for these options (KV cache + scratch), for memory fit.
  static size_t memory_bytes(const ModelConfig& config, const ContextOptions& options);

  const Model& model() const { return model_; }
  const ContextOptions& options() const { return options_; }
  KvCache& kv_cache() { return kv_; }
  ComputePool& pool() { return pool_; }

  //! A new empty sequence; resource_exhausted when n_seq_max are alive.
  [[nodiscard]] Result<int32_t> add_sequence();
  void remove_sequence(int32_t seq);
  int64_t sequence_length(int32_t seq) const;
  const std::vector<int32_t>& block_table(int32_t seq) const { return sequences_[seq].blocks; }
  //! Starts an empty sequence on shared prefix blocks (each retained), holding n_tokens tokens;
  //! the blocks must be full (n_tokens == blocks.size() * block size).
  [[nodiscard]] Status adopt_prefix(int32_t seq, std::span<const int32_t> blocks, int64_t n_tokens);

  [[nodiscard]] Status decode(std::span<const BatchToken> batch);
  //! Logits of the i-th entry marked `logits` in the last decode().
  std::span<const float> logits(size_t i) const;

  //! BERT models: the pooled embedding of one token sequence (L2-normalised if asked).
  [[nodiscard]] Result<std::vector<float>> embed(std::span<const TokenId> tokens, bool normalize = true);
  //! Several sequences, packed into as few forward passes as n_batch allows (attention stays
  //! within each sequence); one embedding per input, in order.
  [[nodiscard]] Result<std::vector<std::vector<float>>> embed_batch(
      std::span<const std::vector<TokenId>> texts, bool normalize = true);

 private:
  Context(const Model& model, const ContextOptions& options);
  Status check_batch(std::span<const BatchToken> batch, int64_t* n_outputs, int64_t* new_blocks);
  void forward_llama(std::span<const BatchToken> batch);
  void attention(int64_t layer, std::span<const BatchToken> batch);
  void forward_bert(std::span<const TokenId> tokens, std::span<const int64_t> starts);
  // The steps of forward_bert, over the n packed tokens (bert_forward.cpp).
  void bert_embed(std::span<const TokenId> tokens, std::span<const int64_t> starts);
  void bert_attention(int64_t layer, int64_t n);
  void bert_feed_forward(int64_t layer, int64_t n);

  struct Sequence {
    bool alive = false;
    int64_t length = 0;
    std::vector<int32_t> blocks;
  };

  const Model& model_;
  ContextOptions options_;
  ComputePool pool_;
  KvCache kv_;
  Matmul matmul_;
  std::vector<Sequence> sequences_;
  std::vector<int64_t> next_position_;  // check_batch scratch

  // Scratch, sized by n_batch.
  std::vector<float> x_, xb_, q_, k_, v_, attn_, ffn_a_, ffn_b_;
  std::vector<float> rope_cos_, rope_sin_;
  std::vector<float> logits_;
  std::vector<int64_t> output_rows_;
  int64_t n_outputs_ = 0;
  // Per compute thread: attention scores, the query in half precision, a dequantized row.
  std::vector<std::vector<float>> scores_;
  std::vector<std::vector<uint16_t>> query_f16_;
  std::vector<std::vector<float>> row_f32_;
  std::vector<int64_t> bert_begin_, bert_end_;  // per packed token: its sequence's range
};

}  // namespace keel::engine
