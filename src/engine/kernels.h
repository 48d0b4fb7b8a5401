// Compute kernels: matrix-vector and matrix-matrix products between weight rows of any
// computable type and activations converted to the matching activation type.
//
// Contract:
// - kernels() returns the fastest table this CPU supports, chosen once (on x86-64: AVX2+FMA+F16C,
//   with AVX-VNNI and AVX-512 where present; else the portable one); reference_kernels() is the plain version the fast one is
//   tested against. Both give the same results up to float summation order.
// - Kernels allocate nothing and take no locks: callers split rows across threads.
// - Weight rows are `row_bytes` apart; n (the row length) is a multiple of the type's block
//   size and of the activation block size.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/quants.h"
#include "engine/tensor_type.h"

namespace keel::engine {

struct KernelTable {
  const char* name;
  //! Converts n floats into `type` (see quants.h for the formats).
  void (*quantize_activation)(ActivationType type, const float* x, void* out, int64_t n);
  //! y[r] = dot(weight row r, a) for r in [0, rows).
  void (*gemv)(TensorType type, const uint8_t* w, size_t row_bytes, const void* a, float* y,
               int64_t n, int64_t rows);
  //! y[t * y_stride + r] = dot(weight row r, activation row t) for r in [0, rows) and
  //! t in [0, tokens); activation rows are `a_stride` bytes apart. Weight rows are read once
  //! per call and reused across all tokens.
  void (*gemm)(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
               const uint8_t* a, size_t a_stride, int64_t tokens, float* y, size_t y_stride,
               int64_t n);
  //! y[i] += a * x[i] for half-precision x (attention: probabilities times value rows).
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n);
  //! y[i] += a * x[i] (attention over float value rows).
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n);
  //! Sum of n floats in any order, read as fast as the core can: the memory-bandwidth probe.
  float (*read_sum_f32)(const float* x, int64_t n);
};

const KernelTable& kernels();
const KernelTable& reference_kernels();
//! The AVX2 table, or null when the CPU (or the build) lacks AVX2/FMA/F16C.
const KernelTable* avx2_kernels();
//! The AVX2 table with AVX-VNNI integer dot products, or null without AVX-VNNI. Its results are
//! bit-identical to the AVX2 table's.
const KernelTable* avx2_vnni_kernels();
//! The AVX2(-VNNI) table with AVX-512 (F, BW, VL, DQ, VNNI) products for Q4_0, Q4_K and Q6_K
//! rows, or null without them. Its results are bit-identical to the AVX2 table's.
const KernelTable* avx512_kernels();

//! "avx2" / "reference": the table kernels() picked.
const char* kernel_name();

}  // namespace keel::engine
