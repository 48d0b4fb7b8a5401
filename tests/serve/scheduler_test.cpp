// The continuous-batching scheduler on a real model (stories260K from the fixtures): batching,
// chunked prefill and prefix reuse must not change what greedy decoding produces; cancellation
// and drain behave as the contract says.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/metrics.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "serve/scheduler.h"
#include "serve/serve_metrics.h"
#include "support/test_support.h"

namespace keel::serve {
namespace {

class CollectingSink : public RequestSink {
 public:
  void on_text(std::string_view delta, const std::vector<engine::TokenLogprob>*) override {
    std::lock_guard lock(mutex_);
    text_ += delta;
    ++pieces_;
    cv_.notify_all();
  }
  void on_finish(const RequestOutcome& outcome) override {
    std::lock_guard lock(mutex_);
    outcome_ = outcome;
    done_ = true;
    cv_.notify_all();
  }
  RequestOutcome wait() {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [&] { return done_; }));
    return outcome_;
  }
  void wait_for_text() {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(60), [&] { return pieces_ > 0 || done_; });
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string text_;
  int pieces_ = 0;
  bool done_ = false;
  RequestOutcome outcome_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = keel::testing::fixtures_dir();
    ASSERT_TRUE(dir) << "the shared fixtures are missing";
    auto m = engine::Model::load(*dir + "/stories260K.gguf");
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = std::move(*m);
  }

  std::vector<engine::TokenId> tokens(const std::string& text) const {
    return model_->tokenizer().encode(text, true, false);
  }

  // What one sequence decoding alone, greedily, produces.
  std::string alone(const std::vector<engine::TokenId>& prompt, int64_t max_tokens) const {
    engine::ContextOptions o;
    o.n_ctx = 256;
    auto ctx = engine::Context::create(*model_, o);
    EXPECT_TRUE(ctx.ok());
    engine::GenerateOptions g;
    g.max_tokens = max_tokens;
    g.sampling.temperature = 0;
    auto seq = (*ctx)->add_sequence();
    EXPECT_TRUE(seq.ok());
    auto r = engine::generate(**ctx, *seq, prompt, g);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->text : "";
  }

  std::shared_ptr<SchedulerRequest> request(const std::vector<engine::TokenId>& prompt, int64_t max_tokens,
                                            std::shared_ptr<CollectingSink> sink, const std::string& tenant = "t") {
    auto r = std::make_shared<SchedulerRequest>();
    r->tenant = tenant;
    r->prompt = prompt;
    r->max_tokens = max_tokens;
    r->sampling.temperature = 0;
    r->sink = std::move(sink);
    return r;
  }

  std::unique_ptr<engine::Model> model_;
  MetricsRegistry registry_;
  ServeMetrics metrics_{registry_, {}};
};

TEST_F(SchedulerTest, BatchedChunkedDecodingMatchesDecodingAlone) {
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily and Ben went to the park",
                                            "One day, a big", "Tom had a red ball", "The sun was"};
  SchedulerOptions o;
  o.max_running = 4;   // fewer slots than requests: some wait, then join the running batch
  o.n_ctx = 256;
  o.token_budget = 5;  // prompts are prefilled in chunks interleaved with decoding
  o.threads = 2;
  Scheduler s(*model_, o, &metrics_);
  ASSERT_TRUE(s.start().ok());
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& p : prompts) {
    sinks.push_back(std::make_shared<CollectingSink>());
    s.submit(request(tokens(p), 24, sinks.back()));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    RequestOutcome out = sinks[i]->wait();
    EXPECT_TRUE(out.error.empty()) << out.error;
    EXPECT_EQ(sinks[i]->text(), alone(tokens(prompts[i]), 24)) << prompts[i];
    EXPECT_EQ(out.prompt_tokens, static_cast<int64_t>(tokens(prompts[i]).size()));
    EXPECT_GT(out.completion_tokens, 0);
    EXPECT_GT(out.ttft_seconds, 0);
  }
  s.stop(true);
  EXPECT_EQ(s.running(), 0);
  EXPECT_EQ(s.waiting(), 0);
  EXPECT_EQ(s.queued_tokens(), 0);
}

TEST_F(SchedulerTest, APrefixFromTheCacheGivesTheSameOutput) {
  std::string shared = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
                       "with her friends and her dog.";
  auto prompt = tokens(shared + " One day");
  ASSERT_GT(prompt.size(), 32u);
  SchedulerOptions o;
  o.max_running = 2;
  o.n_ctx = 256;
  o.extra_cache_blocks = 32;
  o.threads = 2;
  Scheduler s(*model_, o, &metrics_);
  ASSERT_TRUE(s.start().ok());
  auto first = std::make_shared<CollectingSink>();
  s.submit(request(prompt, 16, first));
  EXPECT_EQ(first->wait().cached_tokens, 0);
  auto second = std::make_shared<CollectingSink>();
  s.submit(request(prompt, 16, second));
  RequestOutcome out = second->wait();
  // Every full block of the prompt but the last token's comes from the cache.
  EXPECT_GE(out.cached_tokens, static_cast<int64_t>((prompt.size() - 1) / 16 * 16));
  EXPECT_EQ(second->text(), first->text());
  EXPECT_EQ(first->text(), alone(prompt, 16));
  s.stop(true);
}

TEST_F(SchedulerTest, CancellationFreesTheSlot) {
  SchedulerOptions o;
  o.max_running = 1;
  o.n_ctx = 256;
  o.threads = 2;
  Scheduler s(*model_, o, &metrics_);
  ASSERT_TRUE(s.start().ok());
  auto sink = std::make_shared<CollectingSink>();
  auto r = request(tokens("Once upon a time"), 200, sink);
  s.submit(r);
  sink->wait_for_text();
  r->cancelled = true;
  RequestOutcome out = sink->wait();
  EXPECT_EQ(out.reason, engine::FinishReason::cancelled);
  EXPECT_LT(out.completion_tokens, 200);
  // The single slot serves the next request.
  auto next = std::make_shared<CollectingSink>();
  s.submit(request(tokens("The dog"), 4, next));
  EXPECT_NE(next->wait().reason, engine::FinishReason::cancelled);
  s.stop(true);
}

TEST_F(SchedulerTest, StopWithoutDrainCancelsAndWithDrainFinishes) {
  SchedulerOptions o;
  o.max_running = 1;
  o.n_ctx = 256;
  o.threads = 2;
  {
    Scheduler s(*model_, o, &metrics_);
    ASSERT_TRUE(s.start().ok());
    auto running = std::make_shared<CollectingSink>(), queued = std::make_shared<CollectingSink>();
    s.submit(request(tokens("Once upon a time"), 30, running));
    s.submit(request(tokens("The dog"), 30, queued));
    s.stop(true);
    EXPECT_EQ(running->wait().reason, engine::FinishReason::length);
    EXPECT_EQ(queued->wait().reason, engine::FinishReason::length);
  }
  {
    Scheduler s(*model_, o, &metrics_);
    ASSERT_TRUE(s.start().ok());
    auto running = std::make_shared<CollectingSink>(), queued = std::make_shared<CollectingSink>();
    s.submit(request(tokens("Once upon a time"), 200, running));
    s.submit(request(tokens("The dog"), 200, queued));
    running->wait_for_text();
    s.stop(false);
    EXPECT_EQ(running->wait().reason, engine::FinishReason::cancelled);
    EXPECT_EQ(queued->wait().reason, engine::FinishReason::cancelled);
  }
}

TEST_F(SchedulerTest, TenantsTakeTurnsForFreeSlots) {
  SchedulerOptions o;
  o.max_running = 1;
  o.n_ctx = 256;
  o.threads = 2;
  Scheduler s(*model_, o, &metrics_);
  ASSERT_TRUE(s.start().ok());
  // One tenant queues five requests, then another queues one: it runs second, not sixth.
  std::vector<std::shared_ptr<CollectingSink>> flood;
  std::mutex order_mutex;
  std::vector<std::string> order;
  struct OrderSink : CollectingSink {
    std::vector<std::string>* order;
    std::mutex* m;
    std::string name;
    void on_finish(const RequestOutcome& o) override {
      {
        std::lock_guard lock(*m);
        order->push_back(name);
      }
      CollectingSink::on_finish(o);
    }
  };
  std::vector<std::shared_ptr<OrderSink>> sinks;
  auto make = [&](const std::string& name) {
    auto sink = std::make_shared<OrderSink>();
    sink->order = &order;
    sink->m = &order_mutex;
    sink->name = name;
    sinks.push_back(sink);
    return sink;
  };
  for (int i = 0; i < 5; ++i) s.submit(request(tokens("Once upon a time"), 8, make("flood"), "flood"));
  s.submit(request(tokens("The dog"), 8, make("calm"), "calm"));
  for (auto& sink : sinks) sink->wait();
  s.stop(true);
  ASSERT_EQ(order.size(), 6u);
  auto calm_at = std::find(order.begin(), order.end(), "calm") - order.begin();
  EXPECT_LE(calm_at, 2) << "the calm tenant finished at position " << calm_at;
}

// Memory pressure: a KV pool of one context for four requests that each grow past a quarter
// of it. The scheduler must evict cached prefixes, then preempt the newest request and
// recompute it later, and every request must still produce exactly what it produces without
// pressure (no streamed text repeated or lost), with or without the prefix cache.
TEST_F(SchedulerTest, AKvPoolTooSmallPreemptsAndRecomputesWithTheSameOutput) {
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog",
                                            "Lily and Ben went to the park", "Tom had a red ball"};
  struct Run {
    std::vector<std::string> texts;
    std::vector<RequestOutcome> outcomes;
    double preemptions_counted = 0;
    int64_t preemptions = 0;
  };
  auto run = [&](int64_t kv_blocks, bool prefix_caching) {
    MetricsRegistry registry;
    ServeMetrics metrics(registry, {});
    SchedulerOptions o;
    o.max_running = 4;
    o.n_ctx = 64;  // 4 blocks of 16
    o.token_budget = 8;
    o.threads = 2;
    o.kv_blocks = kv_blocks;
    o.prefix_caching = prefix_caching;
    Scheduler s(*model_, o, &metrics);
    EXPECT_TRUE(s.start().ok());
    std::vector<std::shared_ptr<CollectingSink>> sinks;
    for (const auto& p : prompts) {
      sinks.push_back(std::make_shared<CollectingSink>());
      s.submit(request(tokens(p), 48, sinks.back()));
    }
    Run r;
    for (auto& sink : sinks) {
      r.outcomes.push_back(sink->wait());
      r.texts.push_back(sink->text());
    }
    s.stop(true);
    r.preemptions = s.preemptions();
    r.preemptions_counted = metrics.kv_preemptions.value();
    // Nothing is left running or waiting, and only the prefix cache holds blocks.
    EXPECT_EQ(metrics.running.value(), 0);
    EXPECT_EQ(metrics.waiting.value(), 0);
    EXPECT_EQ(metrics.kv_used_ratio.value(), metrics.kv_cached_ratio.value());
    EXPECT_EQ(s.queued_tokens(), 0);
    return r;
  };
  const Run roomy = run(0, true);
  EXPECT_EQ(roomy.preemptions, 0);
  for (bool prefix_caching : {true, false}) {
    SCOPED_TRACE(prefix_caching ? "with the prefix cache" : "without the prefix cache");
    const Run tight = run(4, prefix_caching);
    EXPECT_GT(tight.preemptions, 0);
    EXPECT_EQ(tight.preemptions_counted, static_cast<double>(tight.preemptions));
    std::printf("KV pool of 4 blocks, %s: %lld preemptions\n",
                prefix_caching ? "prefix cache" : "no prefix cache",
                static_cast<long long>(tight.preemptions));
    ASSERT_EQ(tight.texts.size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_TRUE(tight.outcomes[i].error.empty()) << tight.outcomes[i].error;
      EXPECT_NE(tight.outcomes[i].reason, engine::FinishReason::cancelled);
      EXPECT_EQ(tight.outcomes[i].completion_tokens, roomy.outcomes[i].completion_tokens)
          << prompts[i];
      EXPECT_EQ(tight.texts[i], roomy.texts[i]) << prompts[i];
      EXPECT_EQ(tight.texts[i], alone(tokens(prompts[i]), 48)) << prompts[i];
    }
  }
}

TEST_F(SchedulerTest, AKvPoolSmallerThanOneContextIsRefused) {
  SchedulerOptions o;
  o.n_ctx = 64;
  o.kv_blocks = 3;  // 64 tokens need 4 blocks of 16
  Scheduler s(*model_, o, &metrics_);
  Status started = s.start();
  EXPECT_EQ(started.code(), StatusCode::invalid_argument) << started.to_string();
}

// The running and waiting gauges follow every way a request enters and leaves: queued,
// admitted, finished, cancelled while running or waiting, and cancelled by a stop without drain.
TEST_F(SchedulerTest, GaugesFollowEveryRequestToItsEnd) {
  SchedulerOptions o;
  o.max_running = 1;
  o.n_ctx = 256;
  o.threads = 2;
  o.step_delay_ms = 5;  // long requests stay in flight while the gauges are read
  Scheduler s(*model_, o, &metrics_);
  ASSERT_TRUE(s.start().ok());
  EXPECT_EQ(metrics_.running.value(), 0);
  EXPECT_EQ(metrics_.waiting.value(), 0);
  auto short_sink = std::make_shared<CollectingSink>();
  s.submit(request(tokens("The dog"), 2, short_sink));
  short_sink->wait();
  auto first = std::make_shared<CollectingSink>(), second = std::make_shared<CollectingSink>(),
       third = std::make_shared<CollectingSink>();
  auto running = request(tokens("Once upon a time"), 200, first);
  auto queued = request(tokens("The little dog"), 200, second);
  s.submit(running);
  first->wait_for_text();
  s.submit(queued);
  s.submit(request(tokens("Tom had a red ball"), 200, third));
  EXPECT_EQ(metrics_.running.value(), 1);
  EXPECT_EQ(metrics_.waiting.value(), 2);
  EXPECT_GT(metrics_.kv_used_ratio.value(), metrics_.kv_cached_ratio.value());
  queued->cancelled = true;  // leaves while waiting
  EXPECT_EQ(second->wait().reason, engine::FinishReason::cancelled);
  running->cancelled = true;  // leaves while running; the third takes the slot
  EXPECT_EQ(first->wait().reason, engine::FinishReason::cancelled);
  third->wait_for_text();
  EXPECT_EQ(metrics_.running.value(), 1);
  EXPECT_EQ(metrics_.waiting.value(), 0);
  s.stop(false);  // the third is cancelled by the stop
  EXPECT_EQ(third->wait().reason, engine::FinishReason::cancelled);
  EXPECT_EQ(metrics_.running.value(), 0);
  EXPECT_EQ(metrics_.waiting.value(), 0);
  EXPECT_EQ(s.running(), 0);
  EXPECT_EQ(s.waiting(), 0);
  EXPECT_EQ(metrics_.kv_used_ratio.value(), metrics_.kv_cached_ratio.value());
}

}  // namespace
}  // namespace keel::serve
