// Fast kernels against the reference, per type, on random data; quantization round trips.
#include "engine/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "engine/fp16.h"
#include "engine/quants.h"

namespace keel::engine {
namespace {

const TensorType kComputable[] = {TensorType::f32,  TensorType::f16,  TensorType::bf16,
                                  TensorType::q8_0, TensorType::q4_0, TensorType::q4_1,
                                  TensorType::q5_0, TensorType::q4_k, TensorType::q5_k,
                                  TensorType::q6_k};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> quantize(TensorType type, const std::vector<float>& x, int64_t n) {
  int64_t rows = static_cast<int64_t>(x.size()) / n;
  size_t rb = *row_bytes(type, n);
  std::vector<uint8_t> out(rb * rows);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_TRUE(quantize_row(type, x.data() + r * n, out.data() + r * rb, n));
  }
  return out;
}

// Relative RMS error of a quantize/dequantize round trip, per type.
TEST(Quants, RoundTripErrorIsWithinTheTypeBound) {
  const int64_t n = 512;
  auto x = random_floats(n * 4, 1);
  std::map<TensorType, double> bound = {
      {TensorType::f32, 0},       {TensorType::f16, 1e-3},    {TensorType::bf16, 5e-3},
      {TensorType::q8_0, 0.01},   {TensorType::q4_0, 0.12},   {TensorType::q4_1, 0.12},
      {TensorType::q5_0, 0.06},   {TensorType::q4_k, 0.10},   {TensorType::q5_k, 0.05},
      {TensorType::q6_k, 0.025}};
  for (TensorType type : kComputable) {
    auto q = quantize(type, x, n);
    std::vector<float> back(x.size());
    size_t rb = *row_bytes(type, n);
    for (int64_t r = 0; r < 4; ++r) dequantize_row(type, q.data() + r * rb, back.data() + r * n, n);
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (back[i] - x[i]) * (back[i] - x[i]);
      ref += x[i] * x[i];
    }
    double rel = std::sqrt(err / ref);
    EXPECT_LE(rel, bound[type]) << tensor_type_name(type);
    if (type != TensorType::f32) {
      EXPECT_GT(rel, 0) << tensor_type_name(type);
    }
  }
}

TEST(Quants, Q4_0NibbleLayoutMatchesGguf) {
  // Element j sits in the low nibble of byte j, element j + 16 in the high nibble.
  std::vector<float> x(32, 0.0f);
  x[0] = -8;  // the largest magnitude sets d = 1
  x[3] = 2;
  x[19] = -3;
  std::vector<uint8_t> q(18);
  quantize_row(TensorType::q4_0, x.data(), q.data(), 32);
  EXPECT_EQ(fp16_to_fp32(static_cast<uint16_t>(q[0] | q[1] << 8)), 1.0f);
  EXPECT_EQ(q[2 + 3] & 15, 2 + 8);
  EXPECT_EQ(q[2 + 3] >> 4, -3 + 8);
  std::vector<float> back(32);
  dequantize_row(TensorType::q4_0, q.data(), back.data(), 32);
  EXPECT_EQ(back[3], 2);
  EXPECT_EQ(back[19], -3);
}

TEST(Quants, ReferenceDotAgreesWithFloatDot) {
  const int64_t n = 1024;
  auto w = random_floats(n, 2);
  auto a = random_floats(n, 3);
  for (TensorType type : kComputable) {
    auto q = quantize(type, w, n);
    std::vector<float> wd(n);
    dequantize_row(type, q.data(), wd.data(), n);
    double exact = 0;
    for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wd[i]) * a[i];
    ActivationType at = activation_type_for(type);
    std::vector<uint8_t> aq(activation_row_bytes(at, n));
    quantize_activation_reference(at, a.data(), aq.data(), n);
    float dot = vec_dot_reference(type, q.data(), aq.data(), n);
    // Activation quantization costs about 1% relative (8-bit) on a sum of ~sqrt(n) magnitude.
    EXPECT_NEAR(dot, exact, 0.02 * std::sqrt(static_cast<double>(n)) + 1e-3) << tensor_type_name(type);
  }
}

TEST(Kernels, FastMatchesReferenceOnRandomData) {
  const KernelTable& fast = kernels();
  const KernelTable& ref = reference_kernels();
  if (std::string(fast.name) == "reference") {
    GTEST_SKIP() << "this CPU has no AVX2/FMA/F16C: the reference table is the only one";
  }
  for (int64_t n : {256, 512, 2048}) {
    // 5 tokens and 7 rows: the tiled products (2 rows x 4 tokens) and their edges.
    const int64_t rows = 7, tokens = 5;
    for (TensorType type : kComputable) {
      SCOPED_TRACE(std::string(tensor_type_name(type)) + " n=" + std::to_string(n));
      auto w = random_floats(n * rows, 10 + static_cast<uint32_t>(type), 0.05f);
      auto q = quantize(type, w, n);
      size_t rb = *row_bytes(type, n);
      ActivationType at = activation_type_for(type);
      size_t ab = activation_row_bytes(at, n);
      std::vector<uint8_t> acts(ab * tokens), acts_ref(ab * tokens);
      for (int64_t t = 0; t < tokens; ++t) {
        auto x = random_floats(n, 100 + t, 2.0f);
        fast.quantize_activation(at, x.data(), acts.data() + t * ab, n);
        ref.quantize_activation(at, x.data(), acts_ref.data() + t * ab, n);
      }
      EXPECT_EQ(acts, acts_ref) << "activation quantization differs";
      std::vector<float> y_fast(rows * tokens), y_ref(rows * tokens), y_gemv(rows);
      fast.gemm(type, q.data(), rb, rows, acts.data(), ab, tokens, y_fast.data(), rows, n);
      ref.gemm(type, q.data(), rb, rows, acts.data(), ab, tokens, y_ref.data(), rows, n);
      for (int64_t i = 0; i < rows * tokens; ++i) {
        EXPECT_NEAR(y_fast[i], y_ref[i], 1e-4 * (1 + std::fabs(y_ref[i]))) << "i=" << i;
      }
      // A token's results do not depend on the batch it was computed in.
      for (int64_t t = 0; t < tokens; ++t) {
        fast.gemv(type, q.data(), rb, acts.data() + t * ab, y_gemv.data(), n, rows);
        for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y_gemv[r], y_fast[t * rows + r]) << "t=" << t << " r=" << r;
      }
    }
  }
}

TEST(Kernels, AxpyMatchesReference) {
  const KernelTable& fast = kernels();
  const KernelTable& ref = reference_kernels();
  for (int64_t n : {1, 7, 8, 40, 131}) {
    auto x = random_floats(n, 5, 1.0f);
    std::vector<uint16_t> xh(n);
    for (int64_t i = 0; i < n; ++i) xh[i] = fp32_to_fp16(x[i]);
    auto y_fast = random_floats(n, 6, 1.0f), y_ref = y_fast;
    fast.axpy_f32(0.37f, x.data(), y_fast.data(), n);
    ref.axpy_f32(0.37f, x.data(), y_ref.data(), n);
    fast.axpy_f16(-1.5f, xh.data(), y_fast.data(), n);
    ref.axpy_f16(-1.5f, xh.data(), y_ref.data(), n);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y_fast[i], y_ref[i], 1e-5f * (1 + std::fabs(y_ref[i]))) << "n=" << n;
  }
}

TEST(Fp16, ConversionsRoundTripAndRoundToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(fp32_to_fp16(f), h) << h;
  }
  EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1.0f + 1.0f / 4096)), 1.0f);  // tie to even
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7C00);                             // overflow -> inf
  EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.5f)), 1.5f);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
}

TEST(Quants, NearestIntRoundsHalfToEven) {
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(3.5f), 4);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(-0.4f), 0);
}

}  // namespace
}  // namespace keel::engine
