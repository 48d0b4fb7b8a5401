#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/compute_pool.h"
#include "engine/matmul.h"
#include "engine/quants.h"
#include "engine/tensor_type.h"

namespace keel::engine {
namespace {

// Matmul hands rows out from a shared counter in shrinking chunks: whatever the thread count, the
// number of matrices in one run and their (uneven) row counts, every row of every output is
// computed once and equals the kernel's own product.
TEST(Matmul, EveryRowOfEveryTaskOnceWhateverTheThreads) {
  const int64_t cols = 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Matrix {
    std::vector<uint8_t> bytes;
    WeightMatrix w;
  };
  auto make = [&](TensorType type, int64_t rows) {
    Matrix m;
    m.w.type = type;
    m.w.rows = rows;
    m.w.cols = cols;
    m.w.row_bytes = *row_bytes(type, cols);
    m.bytes.resize(m.w.row_bytes * rows);
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = normal(rng);
      quantize_row(type, row.data(), m.bytes.data() + r * m.w.row_bytes, cols);
    }
    m.w.data = m.bytes.data();
    return m;
  };
  Matrix a = make(TensorType::q4_0, 1000), b = make(TensorType::q8_0, 37), c = make(TensorType::f16, 5);
  for (int64_t tokens : {1, 3, 9}) {
    std::vector<float> x(tokens * cols);
    for (auto& v : x) v = normal(rng);
    // Expected: each matrix alone, on one thread.
    std::vector<float> want_a(tokens * 1000), want_b(tokens * 37), want_c(tokens * 5);
    {
      ComputePool one(1);
      Matmul alone(one, 16, cols);
      alone.run({{&a.w, want_a.data(), 1000}}, x.data(), tokens, cols);
      alone.run({{&b.w, want_b.data(), 37}}, x.data(), tokens, cols);
      alone.run({{&c.w, want_c.data(), 5}}, x.data(), tokens, cols);
    }
    for (int threads : {1, 2, 3, 5}) {
      SCOPED_TRACE("tokens " + std::to_string(tokens) + ", threads " + std::to_string(threads));
      ComputePool pool(threads);
      Matmul matmul(pool, 16, cols);
      const float kUnset = -12345.0f;
      std::vector<float> got_a(tokens * 1000, kUnset), got_b(tokens * 37, kUnset), got_c(tokens * 5, kUnset);
      for (int repeat = 0; repeat < 20; ++repeat) {
        matmul.run({{&a.w, got_a.data(), 1000}, {&b.w, got_b.data(), 37}, {&c.w, got_c.data(), 5}}, x.data(),
                   tokens, cols);
        ASSERT_EQ(got_a, want_a);
        ASSERT_EQ(got_b, want_b);
        ASSERT_EQ(got_c, want_c);
        std::fill(got_a.begin(), got_a.end(), kUnset);
        std::fill(got_b.begin(), got_b.end(), kUnset);
        std::fill(got_c.begin(), got_c.end(), kUnset);
      }
    }
  }
}

}  // namespace
}  // namespace keel::engine
