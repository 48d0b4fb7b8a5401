// A loaded model: its GGUF file (memory-mapped), configuration, tokenizer and weights bound to
// the tensors they live in.
//
// Contract:
// - load() validates every tensor the architecture needs (present, expected shape, a type the
//   kernels compute with) and names the tensor at fault; matrices are used in place from the
//   mapping (no copy); 1-D tensors (norms, biases) are copied to float.
// - A Model is immutable after load and may be shared by several Contexts and threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/gguf.h"
#include "engine/model_config.h"
#include "engine/tensor_type.h"
#include "engine/tokenizer.h"

namespace keel::engine {

//! rows x cols matrix: `rows` outputs, each a row of `cols` inputs (GGUF ne = {cols, rows}).
struct WeightMatrix {
  TensorType type = TensorType::f32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  std::string name;
  bool present() const { return data != nullptr; }
};

struct LayerWeights {
  // llama / qwen2 (pre-norm) and bert (post-norm) share names where they can.
  std::vector<float> attn_norm, attn_norm_bias;    // llama: attn_norm; bert: attn_output_norm
  WeightMatrix wq, wk, wv, wo;
  std::vector<float> bq, bk, bv, bo;               // optional biases
  std::vector<float> ffn_norm, ffn_norm_bias;      // llama: ffn_norm; bert: layer_output_norm
  WeightMatrix w_gate, w_up, w_down;               // bert has no gate
  std::vector<float> b_up, b_down;
};

struct ModelWeights {
  WeightMatrix token_embd;
  WeightMatrix output;  //!< token_embd when tied
  std::vector<float> output_norm;
  std::vector<float> rope_freqs;  //!< Llama-3 frequency factors (n_rot / 2), optional
  // bert only
  WeightMatrix position_embd, token_types;
  std::vector<float> embd_norm, embd_norm_bias;
  std::vector<LayerWeights> layers;
};

struct ModelLoadOptions {
  bool prefetch = true;  //!< ask the kernel to read the weights ahead
};

class Model {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Model>> load(const std::string& path,
                                                           const ModelLoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& file() const { return *file_; }
  //! Bytes of all tensors in the file.
  uint64_t weight_bytes() const { return weight_bytes_; }
  //! The dominant matrix type ("Q4_K" for a Q4_K_M file).
  std::string type_summary() const;

 private:
  Model() = default;
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace keel::engine
