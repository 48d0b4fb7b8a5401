// The clocks behind core/clock.h: a ManualClock moves only when told (advance_ns, or sleep_ns
// from the code under test, which never blocks); the system clock is monotonic and really
// sleeps. The one test here that sleeps is the test of the real clock's sleep itself.
#include "core/clock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace keel {
namespace {

TEST(ManualClock, MovesOnlyWhenToldAndKeepsWallTimeInStep) {
  ManualClock clock(5, 1'000'000);
  EXPECT_EQ(clock.now_ns(), 5);
  EXPECT_EQ(clock.unix_now_ns(), 1'000'000);
  EXPECT_EQ(clock.now_ns(), 5) << "reading does not move it";
  clock.advance_ns(10);
  EXPECT_EQ(clock.now_ns(), 15);
  EXPECT_EQ(clock.unix_now_ns(), 1'000'010);
  EXPECT_EQ(clock.slept_ns(), 0) << "advance_ns is the test's own move, not a sleep";
}

TEST(ManualClock, SleepingAdvancesItAtOnceForEveryReader) {
  ManualClock clock;
  const Clock& seen_by_code = clock;  // what a component holds
  seen_by_code.sleep_ns(250);
  seen_by_code.sleep_ns(0);
  seen_by_code.sleep_ns(-7);  // nothing to wait for
  EXPECT_EQ(clock.now_ns(), 250);
  EXPECT_EQ(clock.slept_ns(), 250);
  // Threads sleeping at once each add their time; none is lost.
  std::vector<std::thread> sleepers;
  for (int i = 0; i < 4; ++i) {
    sleepers.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) seen_by_code.sleep_ns(1);
    });
  }
  for (auto& t : sleepers) t.join();
  EXPECT_EQ(clock.now_ns(), 4250);
  EXPECT_EQ(clock.slept_ns(), 4250);
}

TEST(SystemClock, IsMonotonicAndItsSleepWaitsAtLeastThatLong) {
  Clock& clock = system_clock();
  EXPECT_EQ(&clock, &system_clock()) << "one process-wide clock";
  int64_t last = clock.now_ns();
  for (int i = 0; i < 1000; ++i) {
    int64_t now = clock.now_ns();
    ASSERT_GE(now, last);
    last = now;
  }
  EXPECT_GT(clock.unix_now_ns(), 1'600'000'000'000'000'000) << "wall time since the epoch, in ns";
  // A real sleep, short, checked only from below (a busy machine may sleep longer).
  const int64_t before = clock.now_ns();
  clock.sleep_ns(2'000'000);
  EXPECT_GE(clock.now_ns() - before, 2'000'000);
}

}  // namespace
}  // namespace keel
