#include "engine/kernels.h"

#include <cstdlib>
#include <cstring>

#include "engine/fp16.h"

namespace keel::engine {

namespace {

void reference_gemv(TensorType type, const uint8_t* w, size_t row_bytes, const void* a, float* y,
                    int64_t n, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) y[r] = vec_dot_reference(type, w + r * row_bytes, a, n);
}

void reference_gemm(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                    const uint8_t* a, size_t a_stride, int64_t tokens, float* y, size_t y_stride,
                    int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < tokens; ++t) {
      y[t * y_stride + r] = vec_dot_reference(type, w + r * row_bytes, a + t * a_stride, n);
    }
  }
}

void reference_axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void reference_axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

// Eight independent sums, so the loop is not one chain of dependent additions.
float reference_read_sum_f32(const float* x, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
  }
  for (; i < n; ++i) acc[0] += x[i];
  float total = 0;
  for (float a : acc) total += a;
  return total;
}

const KernelTable kReference = {"reference",        quantize_activation_reference, reference_gemv,
                                reference_gemm,     reference_axpy_f16,            reference_axpy_f32,
                                reference_read_sum_f32};

const KernelTable& choose() {
  // KEEL_KERNELS=reference forces the portable kernels (for comparisons and debugging).
  const char* forced = std::getenv("KEEL_KERNELS");
  if (forced && std::strcmp(forced, "reference") == 0) return kReference;
  // KEEL_KERNELS=avx2 or =avx2-vnni caps the choice at that table.
  const bool upto_avx2 = forced && std::strcmp(forced, "avx2") == 0;
  const bool upto_vnni = forced && std::strcmp(forced, "avx2-vnni") == 0;
  if (const KernelTable* avx512 = avx512_kernels(); avx512 && !upto_avx2 && !upto_vnni) return *avx512;
  if (const KernelTable* vnni = avx2_vnni_kernels(); vnni && !upto_avx2) return *vnni;
  if (const KernelTable* fast = avx2_kernels()) return *fast;
  return kReference;
}

}  // namespace

const KernelTable& reference_kernels() { return kReference; }

const KernelTable& kernels() {
  static const KernelTable& chosen = choose();
  return chosen;
}

const char* kernel_name() { return kernels().name; }

}  // namespace keel::engine
