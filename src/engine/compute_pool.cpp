#include "engine/compute_pool.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#define KEEL_PAUSE() _mm_pause()
#else
#define KEEL_PAUSE() std::this_thread::yield()
#endif

namespace keel::engine {

namespace {
// Spins before sleeping: about a millisecond on current CPUs, far longer than the gap between
// two jobs of one forward pass, far shorter than a user's think time.
constexpr int kSpinsBeforeSleep = 1 << 15;
}  // namespace

ComputePool::ComputePool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ComputePool::~ComputePool() {
  stop_.store(true);
  {
    std::lock_guard lock(sleep_mutex_);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ComputePool::split(int64_t total, int i, int n, int64_t align, int64_t* begin, int64_t* end) {
  int64_t units = (total + align - 1) / align;
  int64_t per = units / n, extra = units % n;
  int64_t first = i * per + std::min<int64_t>(i, extra);
  int64_t count = per + (i < extra ? 1 : 0);
  *begin = std::min(total, first * align);
  *end = std::min(total, (first + count) * align);
}

void ComputePool::dispatch(void* job, Trampoline call) {
  job_ = job;
  call_ = call;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  // Publish first, then look for sleepers (both sequentially consistent): a worker that read
  // the old generation registered itself as a sleeper before, so it is seen here; taking the
  // lock waits until it is really waiting, so the notification cannot be lost.
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) {
    { std::lock_guard lock(sleep_mutex_); }
    wake_.notify_all();
  }
  call_(job_, 0, n_threads_);
  // Spin for the stragglers; yield now and then in case there are more threads than cores.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins % 1024 == 1023) {
      std::this_thread::yield();
    } else {
      KEEL_PAUSE();
    }
  }
}

void ComputePool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    uint64_t now;
    while ((now = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinsBeforeSleep) {
        if (spins % 1024 == 0) {
          std::this_thread::yield();
        } else {
          KEEL_PAUSE();
        }
        continue;
      }
      std::unique_lock lock(sleep_mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
      spins = 0;
    }
    seen = now;
    if (stop_.load()) return;
    call_(job_, index, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace keel::engine
