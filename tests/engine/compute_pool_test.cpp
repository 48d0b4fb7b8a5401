// The compute pool: every thread runs every job, parked workers wake, and row ranges split.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>

#include "engine/compute_pool.h"
#include "support/test_support.h"

namespace keel::engine {
namespace {

TEST(ComputePool, RunsEveryThreadEveryTimeAndSurvivesSleeping) {
  ComputePool pool(3);
  std::atomic<int> total{0};
  auto job = [&](int i, int n) {
    EXPECT_EQ(n, 3);
    total += i + 1;
  };
  for (int k = 0; k < 2000; ++k) pool.run(job);
  EXPECT_EQ(total.load(), 2000 * 6);
  // Idle workers spin a while, then park; the next job must wake them.
  ASSERT_TRUE(keel::testing::poll_until([&] { return pool.sleeping_workers() == 2; }, 30000, 1))
      << pool.sleeping_workers() << " of 2 workers parked";
  pool.run(job);
  EXPECT_EQ(total.load(), 2001 * 6);
  int64_t b, e;
  ComputePool::split(100, 0, 3, 16, &b, &e);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 48);
  ComputePool::split(100, 2, 3, 16, &b, &e);
  EXPECT_EQ(e, 100);
}

}  // namespace
}  // namespace keel::engine
