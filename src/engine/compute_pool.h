// The engine's worker threads for per-token compute: a fixed set of threads that spin briefly
// between jobs (a forward pass posts a hundred or more small jobs per token) and sleep when
// idle.
//
// Contract:
// - run(job) executes job(thread_index, n_threads) on every thread, the caller being thread 0,
//   and returns when all have finished. It allocates nothing and makes no syscall while the
//   workers are spinning.
// - run() must not be called concurrently or from inside a job. The pool is not copyable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace keel::engine {

class ComputePool {
 public:
  //! n_threads >= 1 (the caller counts as one).
  explicit ComputePool(int n_threads);
  ~ComputePool();
  ComputePool(const ComputePool&) = delete;
  ComputePool& operator=(const ComputePool&) = delete;

  int size() const { return n_threads_; }
  //! Workers that stopped spinning and wait to be woken (for tests of the sleep path).
  int sleeping_workers() const { return sleepers_.load(); }

  template <typename F>
  void run(F& job) {
    if (n_threads_ == 1) {
      job(0, 1);
      return;
    }
    dispatch(&job, [](void* p, int i, int n) { (*static_cast<F*>(p))(i, n); });
  }

  //! Contiguous range [begin, end) of `total` items for thread i of n, aligned to `align`.
  static void split(int64_t total, int i, int n, int64_t align, int64_t* begin, int64_t* end);

 private:
  using Trampoline = void (*)(void*, int, int);
  void dispatch(void* job, Trampoline call);
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  void* job_ = nullptr;
  Trampoline call_ = nullptr;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace keel::engine
