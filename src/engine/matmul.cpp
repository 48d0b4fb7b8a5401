#include "engine/matmul.h"

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
  const MatmulTask* begin = tasks.begin();
  const size_t n_tasks = tasks.size();
  auto job = [&](int thread, int n_threads) {
    for (size_t k = 0; k < n_tasks; ++k) {
      const MatmulTask& task = begin[k];
      int64_t r0, r1;
      ComputePool::split(task.w->rows, thread, n_threads, 16, &r0, &r1);
      if (r0 >= r1) continue;
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
