// The embedding worker with a stand-in model: jobs take turns one slice at a time, a cancelled
// job gets no more slices, admission refuses past the bound with a Retry-After, and every
// admitted job ends exactly once. A gate in the stand-in holds the worker until the test has
// queued what it needs, so nothing here depends on timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/metrics.h"
#include "serve/embedding_queue.h"

namespace keel::serve {
namespace {

// Embeds "inputs" as one-float vectors holding their length; records which job each slice
// was for (inputs are named "<job>:<n>"); waits at the gate until opened.
class StandIn {
 public:
  EmbeddingQueue::EmbedSlice fn() {
    return [this](std::span<const std::string> inputs,
                  int64_t* tokens) -> Result<std::vector<std::vector<float>>> {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return open_; });
      slices_.push_back(inputs.front().substr(0, inputs.front().find(':')));
      std::vector<std::vector<float>> out;
      for (const auto& s : inputs) {
        if (s.find("bad") != std::string::npos) return Status::invalid_argument("an input is bad");
        out.push_back({static_cast<float>(s.size())});
        *tokens += 1;
      }
      if (after_slice_) after_slice_(slices_.back());
      return out;
    };
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<std::string> slices() {
    std::lock_guard lock(mutex_);
    return slices_;
  }
  std::function<void(const std::string&)> after_slice_;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<std::string> slices_;
};

struct Ended {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> order;  // job names as they ended
  std::map<std::string, int> times;
  std::map<std::string, bool> cancelled;
  std::map<std::string, std::string> errors;
  std::map<std::string, size_t> vectors;
  bool wait_for(size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return order.size() >= n; });
  }
};

std::shared_ptr<EmbeddingJob> job(const std::string& name, int inputs, Ended* ended) {
  auto j = std::make_shared<EmbeddingJob>();
  for (int i = 0; i < inputs; ++i) j->inputs.push_back(name + ":" + std::to_string(i));
  j->on_done = [name, ended](EmbeddingJob& done) {
    std::lock_guard lock(ended->mutex);
    ended->order.push_back(name);
    ended->times[name]++;
    ended->cancelled[name] = done.cancelled.load();
    ended->errors[name] = done.error;
    ended->vectors[name] = done.vectors.size();
    ended->cv.notify_all();
  };
  return j;
}

AdmissionLimits roomy() {
  AdmissionLimits l;
  l.max_waiting = 100;
  return l;
}

TEST(EmbeddingQueue, JobsTakeTurnsSoASmallOneDoesNotWaitForTheLargeOnes) {
  StandIn model;
  MetricsRegistry registry;
  ServeMetrics metrics(registry, {});
  EmbeddingQueue q(model.fn(), {4, 0}, &metrics);
  Ended ended;
  for (const char* name : {"large1", "large2", "large3"})
    ASSERT_TRUE(q.submit(job(name, 16, &ended), roomy()).admitted);
  ASSERT_TRUE(q.submit(job("small", 1, &ended), roomy()).admitted);
  EXPECT_EQ(q.jobs(), 4);
  EXPECT_EQ(metrics.embedding_requests.value(), 4);
  model.open();
  ASSERT_TRUE(ended.wait_for(4));
  EXPECT_EQ(ended.order.front(), "small") << "the one-input job waited for the large ones";
  // Round robin, 4 inputs a slice: one slice of each large job, then the small one.
  auto slices = model.slices();
  ASSERT_GE(slices.size(), 4u);
  EXPECT_EQ((std::vector<std::string>(slices.begin(), slices.begin() + 4)),
            (std::vector<std::string>{"large1", "large2", "large3", "small"}));
  EXPECT_EQ(slices.size(), 3u * 4u + 1u);
  for (const char* name : {"large1", "large2", "large3"})
    EXPECT_EQ(ended.vectors[name], 16u) << name;
  EXPECT_EQ(q.jobs(), 0);
  EXPECT_EQ(metrics.embedding_requests.value(), 0);
  EXPECT_EQ(metrics.embedding_inputs.value(), 49);
}

TEST(EmbeddingQueue, ACancelledJobGetsNoMoreSlices) {
  StandIn model;
  EmbeddingQueue q(model.fn(), {2, 0}, nullptr);
  Ended ended;
  auto doomed = job("doomed", 20, &ended);
  // The client leaves during the job's first slice.
  model.after_slice_ = [&](const std::string& name) {
    if (name == "doomed") doomed->cancelled = true;
  };
  ASSERT_TRUE(q.submit(doomed, roomy()).admitted);
  ASSERT_TRUE(q.submit(job("other", 4, &ended), roomy()).admitted);
  model.open();
  ASSERT_TRUE(ended.wait_for(2));
  auto slices = model.slices();
  EXPECT_EQ(std::count(slices.begin(), slices.end(), "doomed"), 1)
      << "work went on after the cancellation";
  EXPECT_TRUE(ended.cancelled["doomed"]);
  EXPECT_LT(ended.vectors["doomed"], 20u);
  EXPECT_FALSE(ended.cancelled["other"]);
  EXPECT_EQ(ended.vectors["other"], 4u);
  EXPECT_EQ(ended.times["doomed"], 1);
}

TEST(EmbeddingQueue, PastTheBoundJobsAreRefusedWithARetryAfter) {
  StandIn model;  // gate closed: nothing finishes
  EmbeddingQueue q(model.fn(), {8, 0}, nullptr);
  Ended ended;
  AdmissionLimits l;
  l.max_waiting = 1;
  l.min_retry_after_s = 2;
  EXPECT_TRUE(q.submit(job("a", 1, &ended), l).admitted);  // in progress
  EXPECT_TRUE(q.submit(job("b", 1, &ended), l).admitted);  // waiting: the bound
  AdmissionDecision d = q.submit(job("c", 1, &ended), l);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, "queue_full");
  EXPECT_GE(d.retry_after_s, 2);
  EXPECT_EQ(q.jobs(), 2);
  model.open();
  ASSERT_TRUE(ended.wait_for(2));
  EXPECT_EQ(ended.times.count("c"), 0u) << "a refused job must not end (its caller answered 429)";
}

TEST(EmbeddingQueue, AnInputErrorEndsTheJobWithTheError) {
  StandIn model;
  EmbeddingQueue q(model.fn(), {2, 0}, nullptr);
  Ended ended;
  auto j = job("j", 3, &ended);
  j->inputs[2] = "j:bad";
  ASSERT_TRUE(q.submit(j, roomy()).admitted);
  model.open();
  ASSERT_TRUE(ended.wait_for(1));
  EXPECT_EQ(ended.errors["j"], "an input is bad");
  EXPECT_EQ(q.jobs(), 0);
}

TEST(EmbeddingQueue, StopEndsEveryQueuedJobCancelledOnce) {
  StandIn model;
  Ended ended;
  {
    EmbeddingQueue q(model.fn(), {1, 0}, nullptr);
    for (const char* name : {"a", "b", "c"})
      ASSERT_TRUE(q.submit(job(name, 5, &ended), roomy()).admitted);
    std::thread opener([&] { model.open(); });
    q.stop();
    opener.join();
    EXPECT_FALSE(q.submit(job("late", 1, &ended), roomy()).admitted);
  }
  ASSERT_TRUE(ended.wait_for(3));
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(ended.times[name], 1) << name;
  EXPECT_EQ(ended.times.count("late"), 0u);
}

}  // namespace
}  // namespace keel::serve
