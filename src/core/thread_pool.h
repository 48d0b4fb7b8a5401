// A fixed-size pool of worker threads for background and request-level work.
//
// Contract:
// - submit() queues a task and returns a future for its result; tasks run in FIFO order.
// - parallel_for() splits [0, n) into contiguous ranges, runs them on the pool and the calling
//   thread, and returns when all are done. It must not be called from inside a pool task of
//   the same pool (it would wait on itself).
// - The destructor finishes queued tasks, then joins the threads.
// The engine's per-token compute uses its own spinning pool (engine/compute_pool.h); this pool
// is for coarse work where a condition-variable wake-up per task is negligible.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace keel {

class ThreadPool {
 public:
  //! threads == 0 picks std::thread::hardware_concurrency().
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  template <typename F>
  auto submit(F&& task) -> std::future<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto packaged = std::make_shared<std::packaged_task<R()>>(std::forward<F>(task));
    std::future<R> result = packaged->get_future();
    enqueue([packaged] { (*packaged)(); });
    return result;
  }

  //! body(begin, end) over contiguous chunks of [0, n).
  void parallel_for(size_t n, const std::function<void(size_t begin, size_t end)>& body);

 private:
  void enqueue(std::function<void()> task);
  void worker_loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace keel
