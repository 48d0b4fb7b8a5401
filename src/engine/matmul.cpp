#include "engine/matmul.h"

#include <algorithm>
#include <cassert>

namespace keel::engine {

Matmul::Matmul(ComputePool& pool, int64_t max_tokens, int64_t max_cols)
    : pool_(pool), kernels_(kernels()), max_tokens_(max_tokens), max_cols_(max_cols) {
  for (int t = 0; t < 6; ++t) {
    auto type = static_cast<ActivationType>(t);
    // Row lengths that are not a multiple of the type's block never use that type.
    int64_t cols = max_cols - max_cols % activation_block_size(type);
    activations_[t].resize(activation_row_bytes(type, cols) * max_tokens + 64);
  }
}

void Matmul::run(std::initializer_list<MatmulTask> tasks, const float* x, int64_t tokens, int64_t cols) {
  assert(tokens <= max_tokens_ && cols <= max_cols_);
  bool needed[6] = {};
  for (const auto& task : tasks) needed[static_cast<int>(activation_type_for(task.w->type))] = true;
  for (int t = 0; t < 6; ++t) {
    if (!needed[t]) continue;
    auto type = static_cast<ActivationType>(t);
    size_t stride = activation_row_bytes(type, cols);
    for (int64_t i = 0; i < tokens; ++i) {
      kernels_.quantize_activation(type, x + i * cols, activations_[t].data() + i * stride, cols);
    }
  }
  // Rows are handed out from one counter in shrinking chunks (guided scheduling), not split
  // evenly up front: on a shared machine one core is often slower for a while, and an even split
  // leaves the other idle at the end of every matrix. A chunk is 1 / (2 x threads) of the rows
  // left, so each thread first streams a long contiguous run (what the prefetchers like; with
  // eight equal chunks per thread its stream would jump every chunk), then the small chunks at
  // the end even the threads out. Chunks are multiples of 16 rows within a matrix and never span two; a row's result does
  // not depend on which thread computes it.
  const MatmulTask* begin = tasks.begin();
  const size_t n_tasks = tasks.size();
  assert(n_tasks <= kMaxTasks);
  int64_t task_end[kMaxTasks];  // the tasks' rows laid end to end
  int64_t total_rows = 0;
  for (size_t k = 0; k < n_tasks; ++k) task_end[k] = total_rows += begin[k].w->rows;
  const int64_t split = 2 * pool_.size();
  next_row_.store(0, std::memory_order_relaxed);
  auto job = [&](int, int) {
    size_t k = 0;
    int64_t start = next_row_.load(std::memory_order_relaxed);
    while (start < total_rows) {
      while (start >= task_end[k]) ++k;  // the counter only grows
      const int64_t size = std::min(std::max<int64_t>(16, (total_rows - start) / split / 16 * 16), task_end[k] - start);
      if (!next_row_.compare_exchange_weak(start, start + size, std::memory_order_relaxed)) continue;
      const MatmulTask& task = begin[k];
      const int64_t r0 = start - (task_end[k] - task.w->rows), r1 = r0 + size;
      int at = static_cast<int>(activation_type_for(task.w->type));
      size_t stride = activation_row_bytes(static_cast<ActivationType>(at), cols);
      const uint8_t* w = task.w->data + r0 * task.w->row_bytes;
      if (tokens == 1) {
        kernels_.gemv(task.w->type, w, task.w->row_bytes, activations_[at].data(), task.y + r0, cols,
                      r1 - r0);
      } else {
        kernels_.gemm(task.w->type, w, task.w->row_bytes, r1 - r0, activations_[at].data(), stride,
                      tokens, task.y + r0, task.y_stride, cols);
      }
      start = next_row_.load(std::memory_order_relaxed);
    }
  };
  pool_.run(job);
}

}  // namespace keel::engine
