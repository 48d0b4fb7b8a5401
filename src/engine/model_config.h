// Hyperparameters of a model, read from GGUF metadata ({arch}.embedding_length, ...).
//
// Contract: from_gguf() accepts the architectures Keel runs (llama, qwen2, bert) and checks
// the numbers are consistent (heads divide the width, KV heads divide heads, rope dims fit);
// anything else is an error naming the key.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "engine/gguf.h"

namespace keel::engine {

enum class Architecture { llama, qwen2, bert };
//! RoPE pairing: normal rotates (2i, 2i+1) (llama GGUFs); neox rotates (i, i + n_rot/2).
enum class RopeType { none, normal, neox };
enum class Pooling { none = 0, mean = 1, cls = 2, last = 3 };

struct ModelConfig {
  Architecture arch = Architecture::llama;
  std::string arch_name;
  std::string name;  //!< general.name, if any
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_ff = 0;
  int64_t n_rot = 0;
  float norm_eps = 1e-5f;  //!< RMSNorm eps (llama/qwen2) or LayerNorm eps (bert)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  RopeType rope_type = RopeType::normal;
  bool causal = true;
  Pooling pooling = Pooling::none;
  int64_t n_token_types = 0;

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }

  [[nodiscard]] static Result<ModelConfig> from_gguf(const GgufFile& file);
};

}  // namespace keel::engine
