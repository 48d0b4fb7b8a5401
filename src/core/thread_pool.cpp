#include "core/thread_pool.h"

#include <algorithm>

namespace keel {

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& body) {
  if (n == 0) return;
  size_t parts = std::min(n, workers_.size() + 1);
  size_t chunk = (n + parts - 1) / parts;
  std::vector<std::future<void>> pending;
  for (size_t begin = chunk; begin < n; begin += chunk) {
    size_t end = std::min(n, begin + chunk);
    pending.push_back(submit([&body, begin, end] { body(begin, end); }));
  }
  body(0, std::min(n, chunk));  // the caller takes the first chunk
  for (auto& f : pending) f.get();
}

}  // namespace keel
