// Whole-model quantization (`keel quantize`): reads a GGUF file, converts each weight matrix to
// the type the chosen scheme gives it, copies everything else, writes a new GGUF file.
//
// Schemes follow llama.cpp's so files compare like for like: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q6_K, and Q4_K_M (Q4_K, with Q6_K for the output matrix and for attn_v/ffn_down of the
// first and last eighth of the layers and every third one between). 1-D tensors and norms keep
// their type; a row length the type cannot hold falls back (Q4_K -> Q5_0, Q6_K -> Q8_0).
//
// Contract: the output is written atomically; progress goes to the callback; the input may be
// of any type Keel reads.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "engine/tensor_type.h"

namespace keel::engine {

struct QuantizeProgress {
  size_t tensor_index;
  size_t tensor_count;
  const std::string& name;
  TensorType from, to;
  uint64_t bytes_out;
};

struct QuantizeReport {
  uint64_t bytes_in = 0, bytes_out = 0;
  size_t tensors = 0, quantized = 0;
  double seconds = 0;
};

//! scheme: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q6_K, Q4_K_M.
[[nodiscard]] Result<QuantizeReport> quantize_model(
    const std::string& input, const std::string& output, std::string_view scheme, int threads,
    const std::function<void(const QuantizeProgress&)>& progress = {});

}  // namespace keel::engine
