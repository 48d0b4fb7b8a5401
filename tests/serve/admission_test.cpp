// Admission bounds and Retry-After estimates.
#include <gtest/gtest.h>

#include "serve/admission.h"

namespace keel::serve {
namespace {

TEST(Admission, AFreeSlotAdmitsEvenWithoutAWaitingRoom) {
  AdmissionLimits limits;
  limits.max_waiting = 0;
  QueueState idle{.waiting = 0, .running = 0, .max_running = 1};
  EXPECT_TRUE(admit(idle, limits, 10).admitted);
  QueueState busy{.waiting = 0, .running = 1, .max_running = 1};
  auto d = admit(busy, limits, 10);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "queue_full");
  EXPECT_GE(d.retry_after_s, 1);
}

TEST(Admission, CountsWaitingBeyondTheRunningSlots) {
  AdmissionLimits limits;
  limits.max_waiting = 2;
  // 4 slots, 3 running, 1 submitted but not yet picked up: this request is the first to wait.
  EXPECT_TRUE(admit({.waiting = 1, .running = 3, .max_running = 4}, limits, 1).admitted);
  EXPECT_TRUE(admit({.waiting = 1, .running = 4, .max_running = 4}, limits, 1).admitted);
  EXPECT_FALSE(admit({.waiting = 2, .running = 4, .max_running = 4}, limits, 1).admitted);
}

TEST(Admission, QueuedTokensAreBoundedByTheLimitOrTheKvCapacity) {
  AdmissionLimits limits;
  limits.max_waiting = 100;
  QueueState s{.waiting = 0, .running = 0, .max_running = 8, .queued_tokens = 900, .kv_token_capacity = 1000};
  EXPECT_TRUE(admit(s, limits, 100).admitted);
  auto d = admit(s, limits, 101);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "queued_tokens");
  EXPECT_NE(d.message.find("limit 1000"), std::string::npos) << d.message;
  limits.max_queued_tokens = 5000;
  EXPECT_TRUE(admit(s, limits, 101).admitted);
}

TEST(Admission, RetryAfterFollowsTheDrainRate) {
  EXPECT_EQ(retry_after_seconds(1000, 100, 1), 10);
  EXPECT_EQ(retry_after_seconds(1, 100, 1), 1);     // never below the floor
  EXPECT_EQ(retry_after_seconds(1, 100, 2.5), 3);   // the floor rounds up
  EXPECT_EQ(retry_after_seconds(10000000, 1000, 1), 600);  // capped
  EXPECT_EQ(retry_after_seconds(500, 0, 1), 10);    // no measured rate yet: 50 tokens/s assumed
  AdmissionLimits limits;
  limits.max_waiting = 0;
  limits.min_retry_after_s = 4;
  auto d = admit({.waiting = 0, .running = 2, .max_running = 2, .queued_tokens = 100, .drain_tokens_per_s = 1000}, limits, 1);
  EXPECT_EQ(d.retry_after_s, 4);
}

TEST(Admission, APredictedWaitPastTheBoundIsRefused) {
  AdmissionLimits limits;
  limits.max_waiting = 100;
  limits.max_queue_wait_s = 1.0;
  // 8 slots busy, 3 waiting; slots free at 4 per second: this request waits about 1 s.
  QueueState s{.waiting = 3, .running = 8, .max_running = 8, .slot_release_per_s = 4};
  EXPECT_TRUE(admit(s, limits, 1).admitted);
  s.waiting = 4;  // 5 / 4 = 1.25 s
  auto d = admit(s, limits, 1);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "queue_wait");
  EXPECT_EQ(d.retry_after_s, 2);
  EXPECT_NE(d.message.find("1.2 s"), std::string::npos) << d.message;
  // A free slot means no wait; an unmeasured rate means no prediction.
  EXPECT_TRUE(admit({.waiting = 0, .running = 7, .max_running = 8, .slot_release_per_s = 0.01}, limits, 1).admitted);
  EXPECT_TRUE(admit({.waiting = 50, .running = 8, .max_running = 8, .slot_release_per_s = 0}, limits, 1).admitted);
}

// Slots held by requests that all started together free up together: the rate says a slot
// frees every 50 ms, the running requests' remaining tokens say not before 400 ms.
TEST(Admission, TheWaitFollowsWhenTheRunningRequestsFreeTheirSlots) {
  AdmissionLimits limits;
  limits.max_waiting = 100;
  limits.max_queue_wait_s = 0.1;
  QueueState s{.waiting = 0, .running = 4, .max_running = 4, .slot_release_per_s = 20,
               .slot_free_in_s = {0.4, 0.4, 0.45, 0.5}};
  auto d = admit(s, limits, 1);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "queue_wait");
  EXPECT_NE(d.message.find("0.4 s"), std::string::npos) << d.message;
  // One request about to finish: the first queued request gets its slot in time, the second not.
  s.slot_free_in_s = {0.05, 0.4, 0.45, 0.5};
  EXPECT_TRUE(admit(s, limits, 1).admitted);
  s.waiting = 1;
  EXPECT_FALSE(admit(s, limits, 1).admitted);
  // Past the running requests, the release rate predicts: 6 / 20 per second = 0.3 s.
  EXPECT_DOUBLE_EQ(predicted_slot_wait_s(s, 6), 0.3);
  EXPECT_DOUBLE_EQ(predicted_slot_wait_s(s, 2), 0.4);
  EXPECT_LT(predicted_slot_wait_s({.waiting = 9, .running = 4, .max_running = 4}, 10), 0);
  // An idle server hit by a burst: the first four take the slots; the fifth waits for one of
  // them to finish, which takes their whole run, not 1 / rate.
  QueueState burst{.waiting = 4, .running = 0, .max_running = 4, .slot_release_per_s = 20,
                   .new_request_hold_s = 0.4};
  EXPECT_DOUBLE_EQ(predicted_slot_wait_s(burst, 1), 0.4);
  EXPECT_FALSE(admit(burst, limits, 1).admitted);
  burst.waiting = 3;
  EXPECT_TRUE(admit(burst, limits, 1).admitted);
}

}  // namespace
}  // namespace keel::serve
