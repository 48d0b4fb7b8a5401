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
  // Rows are handed out in chunks from one counter, not split evenly up front: on a shared
  // machine one core is often slower for a while, and an even split leaves the other idle at
  // the end of every matrix. About 8 chunks per thread per matrix, at least 16 rows each; a row's
  // result does not depend on which thread computes it.
  const MatmulTask* begin = tasks.begin();
  const size_t n_tasks = tasks.size();
  assert(n_tasks <= kMaxTasks);
  int64_t chunk_rows[kMaxTasks], first_chunk[kMaxTasks + 1];
  first_chunk[0] = 0;
  for (size_t k = 0; k < n_tasks; ++k) {
    const int64_t rows = begin[k].w->rows;
    chunk_rows[k] = std::max<int64_t>(16, (rows / (8 * pool_.size()) + 15) / 16 * 16);
    first_chunk[k + 1] = first_chunk[k] + (rows + chunk_rows[k] - 1) / chunk_rows[k];
  }
  const int64_t total_chunks = first_chunk[n_tasks];
  next_chunk_.store(0, std::memory_order_relaxed);
  auto job = [&](int, int) {
    size_t k = 0;
    for (int64_t c; (c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) < total_chunks;) {
      while (c >= first_chunk[k + 1]) ++k;  // chunks are taken in increasing order
      const MatmulTask& task = begin[k];
      const int64_t r0 = (c - first_chunk[k]) * chunk_rows[k];
      const int64_t r1 = std::min(task.w->rows, r0 + chunk_rows[k]);
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
    }
  };
  pool_.run(job);
}

}  // namespace keel::engine
