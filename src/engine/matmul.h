// Matrix products of the forward pass: activations (tokens x cols, float) times weight
// matrices, split by rows across the compute pool.
//
// Contract: run() converts the activations once per activation type the matrices need, then
// computes every task in one parallel region. Buffers are sized at construction; run()
// allocates nothing. Not thread-safe (one per Context).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "engine/compute_pool.h"
#include "engine/kernels.h"
#include "engine/model.h"

namespace keel::engine {

struct MatmulTask {
  const WeightMatrix* w;
  float* y;          //!< tokens rows of w->rows values
  size_t y_stride;   //!< floats between output rows (>= w->rows)
};

class Matmul {
 public:
  Matmul(ComputePool& pool, int64_t max_tokens, int64_t max_cols);

  //! y_task[t][r] = dot(task.w row r, x[t]) for all tasks (at most kMaxTasks); x rows are
  //! `cols` floats apart and every task's matrix has `cols` columns. Threads take rows in
  //! shrinking chunks as they finish the previous ones.
  static constexpr size_t kMaxTasks = 4;
  void run(std::initializer_list<MatmulTask> tasks, const float* x, int64_t tokens, int64_t cols);

 private:
  ComputePool& pool_;
  const KernelTable& kernels_;
  int64_t max_tokens_, max_cols_;
  std::array<std::vector<uint8_t>, 6> activations_;  // by ActivationType
  std::atomic<int64_t> next_row_{0};                  // the first row not yet taken in run()
};

}  // namespace keel::engine
