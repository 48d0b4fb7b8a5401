// Reference conversions between floats and every tensor type Keel computes with: the plain
// versions that the fast kernels (engine/kernels.h) are tested against, and the quantizers that
// `keel quantize` uses.
//
// Contract:
// - n is a multiple of the type's block size (asserted); buffers are sized by row_bytes().
// - Activations are quantized the way llama.cpp's CPU backend does it for each weight type
//   (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1, Q8_K for K-quants, F16/BF16 rounding for half
//   weights), so logits agree with llama.cpp's up to summation order.
// - vec_dot_reference() is the dot product of one weight row with one quantized activation row.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor_type.h"

namespace keel::engine {

//! Dequantizes one row of n elements.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

//! Quantizes one row of n weights (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K).
//! Returns false for a type Keel cannot produce.
bool quantize_row(TensorType type, const float* src, void* dst, int64_t n);

enum class ActivationType { f32, f16, bf16, q8_0, q8_1, q8_k };

ActivationType activation_type_for(TensorType weight_type);
size_t activation_row_bytes(ActivationType type, int64_t n);
//! Block size the activation type needs n to be a multiple of.
int activation_block_size(ActivationType type);

//! Converts an activation row for dot products with weights of the matching type.
void quantize_activation_reference(ActivationType type, const float* x, void* out, int64_t n);

//! dot(weight row, activation row) with the activation already in activation_type_for(type).
float vec_dot_reference(TensorType type, const void* weight_row, const void* activation,
                        int64_t n);

//! Round half to even, as ggml's nearest_int (valid for |x| < 2^22).
int nearest_int(float x);

}  // namespace keel::engine
