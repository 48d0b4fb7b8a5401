#include "core/clock.h"

#include <chrono>
#include <thread>

namespace keel {

namespace {

class SystemClock final : public Clock {
 public:
  int64_t now_ns() const override { return monotonic_now_ns(); }
  int64_t unix_now_ns() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_ns(int64_t ns) const override {
    if (ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  }
};

}  // namespace

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

int64_t monotonic_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace keel
