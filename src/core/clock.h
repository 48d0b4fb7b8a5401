// Clocks behind an interface, so tests can drive time (the LevelDB Env idea).
//
// Contract: now_ns() is monotonic (for durations and deadlines); unix_now_ns() is wall time
// (for records people read and deadlines stored in databases). sleep_ns() lets time pass for
// the caller: the system clock blocks the calling thread, a ManualClock moves itself forward
// at once without blocking (so code that waits between retries can be tested without waiting).
// All are thread-safe. A component that reads time takes a `const Clock&` (default
// system_clock()); a clock outlives every component that holds it.
#pragma once

#include <atomic>
#include <cstdint>

namespace keel {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ns() const = 0;
  virtual int64_t unix_now_ns() const = 0;
  //! Lets `ns` nanoseconds pass for the caller (nothing when ns <= 0). Const because waiting
  //! does not change what the clock is; on a ManualClock it advances the clock for every reader.
  virtual void sleep_ns(int64_t ns) const = 0;
};

//! The process-wide real clock.
Clock& system_clock();

//! A clock that moves only when told (advance_ns, or sleep_ns from the code under test);
//! starts at the given times.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 0, int64_t unix_start_ns = 1'700'000'000'000'000'000)
      : now_ns_(start_ns), unix_offset_ns_(unix_start_ns - start_ns) {}
  int64_t now_ns() const override { return now_ns_.load(); }
  int64_t unix_now_ns() const override { return now_ns_.load() + unix_offset_ns_; }
  void sleep_ns(int64_t ns) const override {
    if (ns > 0) {
      now_ns_.fetch_add(ns);
      slept_ns_.fetch_add(ns);
    }
  }
  void advance_ns(int64_t delta_ns) { now_ns_.fetch_add(delta_ns); }
  //! Total time the code under test asked to sleep on this clock (advance_ns not counted).
  int64_t slept_ns() const { return slept_ns_.load(); }

 private:
  mutable std::atomic<int64_t> now_ns_;
  mutable std::atomic<int64_t> slept_ns_{0};
  int64_t unix_offset_ns_;
};

//! Monotonic nanoseconds from the system clock; for hot paths that cannot take an interface.
int64_t monotonic_now_ns();

}  // namespace keel
