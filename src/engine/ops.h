// Element-wise and row-wise operations of the forward passes, written as plain loops the
// compiler vectorizes. Numerics follow llama.cpp where it matters for agreement: RMSNorm sums
// squares in double, RoPE angles are accumulated in float, softmax sums in double.
#pragma once

#include <cstdint>

namespace keel::engine {

//! y = x / sqrt(mean(x^2) + eps) * weight
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);
//! y = (x - mean) / sqrt(var + eps) * weight + bias
void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n, float eps);
//! x[i] += y[i]
void add_inplace(float* x, const float* y, int64_t n);
//! x[i] = silu(x[i]) * gate_other[i]   (SwiGLU: silu(gate) * up)
void silu_mul(float* gate, const float* up, int64_t n);
//! Tanh-approximated GELU, as llama.cpp computes it (through half precision).
void gelu(float* x, int64_t n);
//! In place softmax over n values; returns nothing. Values may be -inf (masked).
void softmax(float* x, int64_t n);

//! Per-position rotation tables for RoPE: cos/sin of n_rot/2 angles.
//! theta_i = pos * base^(-2i/n_rot) * freq_scale / freq_factors[i] (freq_factors may be null).
void rope_angles(int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors,
                 float* cos_out, float* sin_out);
//! Rotates one head (head_dim values) in place; neox pairs (i, i + n_rot/2), else (2i, 2i+1).
void rope_apply(float* head, int64_t n_rot, const float* cos_v, const float* sin_v, bool neox);

}  // namespace keel::engine
