// Fast kernels against the reference, per type, on random data; quantization round trips.
#include "engine/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "engine/fp16.h"
#include "engine/quant_blocks.h"
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

TEST(Quants, KQuantScalesUnpackedOnWordsMatchPerSubBlock) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    uint8_t packed[12];
    for (auto& b : packed) b = static_cast<uint8_t>(rng());
    uint8_t scales[8], mins[8];
    unpack_scales_mins_k4(packed, scales, mins);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, mn;
      get_scale_min_k4(j, packed, &sc, &mn);
      ASSERT_EQ(scales[j], sc) << "sub-block " << j;
      ASSERT_EQ(mins[j], mn) << "sub-block " << j;
    }
  }
}

// Every fast table this CPU can run (AVX2, and AVX2 with AVX-VNNI), each against the reference.
class FastKernels : public ::testing::TestWithParam<const KernelTable* (*)()> {};

TEST_P(FastKernels, MatchReferenceOnRandomData) {
  const KernelTable* table = GetParam()();
  if (table == nullptr) GTEST_SKIP() << "this CPU cannot run this table";
  const KernelTable& fast = *table;
  const KernelTable& ref = reference_kernels();
  // 33,024: longer than the rows whose activation gemv_q4_0 prepares on its stack.
  for (int64_t n : {256, 512, 2048, 33024}) {
    // 5 tokens and 7 rows: the tiled products (2 rows x 2 tokens) and their edges.
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

INSTANTIATE_TEST_SUITE_P(Tables, FastKernels, ::testing::Values(&avx2_kernels, &avx2_vnni_kernels, &avx512_kernels),
                         [](const auto& param) {
                           return std::string(param.index == 0 ? "avx2" : param.index == 1 ? "avx2_vnni" : "avx512");
                         });

// The AVX-VNNI and AVX-512 tables give the AVX2 table's results bit for bit, matrix-vector and
// matrix-matrix (tiles and edges), for even and odd block counts and for rows longer than the
// activation they prepare on the stack.
class WiderKernels : public ::testing::TestWithParam<const KernelTable* (*)()> {};

TEST_P(WiderKernels, GiveTheAvx2TablesResultsBitForBit) {
  const KernelTable* avx2 = avx2_kernels();
  const KernelTable* wider = GetParam()();
  if (avx2 == nullptr || wider == nullptr) GTEST_SKIP() << "this CPU cannot run this table";
  const int64_t rows = 9;
  // 288 and 4,384: odd numbers of 32-element blocks (only the 32-element types take them);
  // 4,396: a lone 8-element chunk and a scalar tail (only the float-like types take it).
  for (int64_t n : {256, 288, 4096, 4384, 4396, 33024}) {
    for (TensorType type : kComputable) {
      if (!row_bytes(type, n)) continue;
      SCOPED_TRACE(std::string(tensor_type_name(type)) + " n=" + std::to_string(n));
      auto q = quantize(type, random_floats(n * rows, 40, 0.05f), n);
      ActivationType at = activation_type_for(type);
      std::vector<uint8_t> act(activation_row_bytes(at, n));
      auto x = random_floats(n, 41, 2.0f);
      avx2->quantize_activation(at, x.data(), act.data(), n);
      std::vector<float> y_avx2(rows), y_wider(rows);
      avx2->gemv(type, q.data(), *row_bytes(type, n), act.data(), y_avx2.data(), n, rows);
      wider->gemv(type, q.data(), *row_bytes(type, n), act.data(), y_wider.data(), n, rows);
      EXPECT_EQ(y_avx2, y_wider) << "gemv";
      const int64_t tokens = 6;
      const size_t ab = activation_row_bytes(at, n);
      std::vector<uint8_t> acts(ab * tokens);
      for (int64_t t = 0; t < tokens; ++t) {
        auto xt = random_floats(n, 50 + static_cast<uint32_t>(t), 2.0f);
        avx2->quantize_activation(at, xt.data(), acts.data() + t * ab, n);
      }
      std::vector<float> g_avx2(rows * tokens), g_wider(rows * tokens);
      avx2->gemm(type, q.data(), *row_bytes(type, n), rows, acts.data(), ab, tokens, g_avx2.data(), rows, n);
      wider->gemm(type, q.data(), *row_bytes(type, n), rows, acts.data(), ab, tokens, g_wider.data(), rows, n);
      EXPECT_EQ(g_avx2, g_wider) << "gemm";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tables, WiderKernels, ::testing::Values(&avx2_vnni_kernels, &avx512_kernels),
                         [](const auto& param) { return std::string(param.index == 0 ? "avx2_vnni" : "avx512"); });

TEST(Kernels, ReadSumIsTheSumWhateverTheLength) {
  for (const KernelTable* table : {&reference_kernels(), avx2_kernels()}) {
    if (table == nullptr) continue;
    for (int64_t n : {0, 1, 63, 64, 65, 1000}) {
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 7);  // exact in float
      double expected = 0;
      for (float v : x) expected += v;
      EXPECT_EQ(table->read_sum_f32(x.data(), n), expected) << table->name << " n=" << n;
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
