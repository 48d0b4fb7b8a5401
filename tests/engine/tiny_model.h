// Tiny random-weight models written with Keel's GGUF writer, for tests that need a model of a
// given architecture and weight type without fixtures.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/model.h"
#include "engine/tensor_type.h"

namespace keel::engine::testing {

struct TinyModelSpec {
  std::string arch = "llama";  //!< llama | qwen2 | bert
  int64_t n_embd = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t n_ff = 96;
  int64_t n_ctx = 128;
  TensorType weight_type = TensorType::f32;
  bool tied_output = false;
  bool rope_freqs = false;  //!< write Llama-3 style frequency factors
  float weight_scale = 0.08f;
  float output_scale = 1.0f;  //!< >1 gives confident (well-separated) next-token choices
  uint32_t seed = 1;
  float rms_norm_eps = 1e-5f;  //!< llama/qwen2 (tests of hyperparameter checks set it to inf)
};

//! Writes the model to `path`; returns its vocabulary size. Aborts the test on failure.
int64_t write_tiny_model(const TinyModelSpec& spec, const std::string& path);

//! Writes the model to `path` and loads it; nullptr (and a test failure) if it does not load.
std::unique_ptr<Model> write_and_load_tiny_model(const TinyModelSpec& spec, const std::string& path);

}  // namespace keel::engine::testing
