// Clocks behind an interface, so tests can drive time (the LevelDB Env idea).
//
// Contract: now_ns() is monotonic (for durations and deadlines); unix_now_ns() is wall time
// (for records people read). Both are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace keel {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ns() const = 0;
  virtual int64_t unix_now_ns() const = 0;
};

//! The process-wide real clock.
Clock& system_clock();

//! A clock that moves only when told; starts at the given times.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 0, int64_t unix_start_ns = 1'700'000'000'000'000'000)
      : now_ns_(start_ns), unix_offset_ns_(unix_start_ns - start_ns) {}
  int64_t now_ns() const override { return now_ns_.load(); }
  int64_t unix_now_ns() const override { return now_ns_.load() + unix_offset_ns_; }
  void advance_ns(int64_t delta_ns) { now_ns_.fetch_add(delta_ns); }

 private:
  std::atomic<int64_t> now_ns_;
  int64_t unix_offset_ns_;
};

//! Monotonic nanoseconds from the system clock; for hot paths that cannot take an interface.
int64_t monotonic_now_ns();

}  // namespace keel
