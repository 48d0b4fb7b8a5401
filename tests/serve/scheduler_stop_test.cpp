// Stopping the scheduler promptly: interrupt() cuts a fault-injected step delay short and
// cancels what runs; a request submitted once stopping began is finished (cancelled) at once
// instead of waiting forever for an engine thread that has ended.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "engine/model.h"
#include "serve/scheduler.h"
#include "support/test_support.h"

namespace keel::serve {
namespace {

class OutcomeSink : public RequestSink {
 public:
  void on_text(std::string_view, const std::vector<engine::TokenLogprob>*) override {}
  void on_finish(const RequestOutcome& o) override {
    std::lock_guard lock(mutex_);
    outcome_ = o;
    done_ = true;
    cv_.notify_all();
  }
  //! The outcome, or nullopt when none came within `seconds`.
  std::optional<RequestOutcome> wait(int seconds) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return done_; }))
      return std::nullopt;
    return outcome_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  RequestOutcome outcome_;
};

std::unique_ptr<engine::Model> tiny() {
  std::string path = keel::testing::source_dir();
  path.append("/models/keel-tiny-chat.gguf");
  auto m = engine::Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(*m) : nullptr;
}

std::shared_ptr<SchedulerRequest> request(const engine::Model& model,
                                          std::shared_ptr<OutcomeSink> sink,
                                          const std::string& tenant = "t") {
  auto r = std::make_shared<SchedulerRequest>();
  r->tenant = tenant;
  r->prompt = model.tokenizer().encode("Once upon a time", true, false);
  r->max_tokens = 100;
  r->sampling.temperature = 0;
  r->sink = std::move(sink);
  return r;
}

TEST(SchedulerStop, InterruptCutsAStepDelayShortAndCancels) {
  auto model = tiny();
  ASSERT_TRUE(model);
  SchedulerOptions o;
  o.max_running = 1;
  o.n_ctx = 128;
  o.threads = 1;
  o.step_delay_ms = 3'600'000;  // every step waits an hour
  Scheduler s(*model, o, nullptr);
  ASSERT_TRUE(s.start().ok());
  auto sink = std::make_shared<OutcomeSink>();
  s.submit(request(*model, sink));
  ASSERT_TRUE(
      keel::testing::poll_until([&] { return s.running() == 1; }));  // in its first step's delay
  s.interrupt();
  auto outcome = sink->wait(60);
  ASSERT_TRUE(outcome) << "the interrupted scheduler kept waiting out the step delay";
  EXPECT_EQ(outcome->reason, engine::FinishReason::cancelled);
  s.stop(false);
  EXPECT_EQ(s.running(), 0);
}

TEST(SchedulerStop, ARequestSubmittedAfterStopIsCancelledAtOnce) {
  auto model = tiny();
  ASSERT_TRUE(model);
  SchedulerOptions o;
  o.max_running = 1;
  o.n_ctx = 128;
  o.threads = 1;
  Scheduler s(*model, o, nullptr);
  ASSERT_TRUE(s.start().ok());
  s.stop(false);
  auto sink = std::make_shared<OutcomeSink>();
  s.submit(request(*model, sink));
  auto outcome = sink->wait(0);
  ASSERT_TRUE(outcome) << "a request submitted to a stopped scheduler was never finished";
  EXPECT_EQ(outcome->reason, engine::FinishReason::cancelled);
  EXPECT_EQ(s.waiting(), 0);
  EXPECT_EQ(s.queued_tokens(), 0);
}

}  // namespace
}  // namespace keel::serve
