// The continuous-batching scheduler: one engine thread that, step after step, runs one forward
// pass over the decode token of every running request plus chunks of pending prefills (within
// a per-step token budget), samples each running request's next token and streams it out.
//
// Contract:
// - submit() is thread-safe and never blocks on the engine; requests are admitted to running
//   in fair order across tenants (round robin), and prefill is chunked so one long prompt
//   cannot stall everyone's decoding.
// - Full KV blocks are shared through the prefix cache. By default the pool holds max_running
//   full contexts (plus extra_cache_blocks for prefixes), so running requests never run out of
//   KV memory. With a smaller pool (kv_blocks), a waiting request is admitted only while the
//   free and evictable blocks hold its tokens plus one new block for each running sequence
//   about to cross a block boundary; when a step still needs more blocks than are free, the
//   scheduler first evicts prefix blocks no sequence references, then preempts the newest
//   running request (latest admitted first): its blocks are released (its full blocks are
//   offered to the prefix cache), it goes back to the front of the queue, and when readmitted
//   its prompt and the tokens it already generated are prefilled again before it continues.
//   Its sampler and text stream are kept, so no streamed text is repeated or lost and greedy
//   output is the same as without preemption. Preemptions are counted
//   (keel_kv_preemptions_total).
// - A cancelled request (its client left) is removed at the next step and its blocks freed.
// - Sinks are called on the engine thread and must not block; a request submitted once stop()
//   or interrupt() began is finished (cancelled) at once, on the submitting thread.
// - stop(drain=true) finishes everything admitted, then returns; drain=false cancels it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "serve/prefix_cache.h"
#include "serve/serve_metrics.h"
#include "core/serving_defaults.h"

namespace keel::serve {

struct SchedulerOptions {
  int64_t max_running = serving_defaults::kMaxRunning;
  int64_t n_ctx = serving_defaults::kContextTokens;  //!< tokens per request (prompt + generation)
  int64_t token_budget = serving_defaults::kStepTokenBudget;  //!< tokens per forward step
  int64_t kv_block_size = 16;
  int64_t extra_cache_blocks = 0;  //!< KV blocks beyond max_running full contexts, for prefixes
  //! KV blocks in the pool; 0: max_running full contexts plus extra_cache_blocks. Fewer lets
  //! running requests outgrow the pool (they are preempted, see above); at least one full
  //! context (n_ctx tokens) is required so a request alone always fits.
  int64_t kv_blocks = 0;
  bool prefix_caching = true;
  int threads = 0;
  //! Fault injection: sleep this long before every forward step (a slower model or a
  //! contended machine), to test overload, cancellation and drain with any model. Cut short
  //! by stop(false) and interrupt().
  int64_t step_delay_ms = 0;
};

struct RequestOutcome {
  engine::FinishReason reason = engine::FinishReason::length;
  std::string error;  //!< set when the request failed inside the engine
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double queue_seconds = 0, ttft_seconds = 0, tpot_seconds = 0, e2e_seconds = 0;
};

//! Where a request's output goes (implemented by the HTTP connection).
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  //! Newly final text; logprob entries when the request asked for them.
  virtual void on_text(std::string_view delta, const std::vector<engine::TokenLogprob>* logprobs) = 0;
  virtual void on_finish(const RequestOutcome& outcome) = 0;
};

struct SchedulerRequest {
  std::string tenant;
  std::vector<engine::TokenId> prompt;
  int64_t max_tokens = 256;
  engine::SamplingParams sampling;
  std::vector<std::string> stop;
  int top_logprobs = -1;  //!< -1: none; 0: the chosen token's; n: and the n most likely
  int64_t arrival_ns = 0;
  std::shared_ptr<RequestSink> sink;
  std::atomic<bool> cancelled{false};
  bool record_metrics = true;  //!< false for the scheduler's own warm-up request
};

class Scheduler {
 public:
  Scheduler(const engine::Model& model, const SchedulerOptions& options, ServeMetrics* metrics);
  ~Scheduler();
  [[nodiscard]] Status start();

  void submit(std::shared_ptr<SchedulerRequest> request);
  void stop(bool drain);
  //! stop(false) without waiting: every request is cancelled at the next step (a fault-injection
  //! step delay is cut short), then the engine thread ends; stop() or the destructor joins it.
  //! Thread-safe; for a server interrupted while it warms up.
  void interrupt();

  // For admission (thread-safe, approximate).
  int64_t waiting() const { return waiting_count_.load(); }
  int64_t running() const { return running_count_.load(); }
  //! Prompt + max_tokens of everything submitted and not finished.
  int64_t queued_tokens() const { return queued_tokens_.load(); }
  //! Tokens processed per second recently (prefill and decode), for Retry-After estimates.
  double drain_tokens_per_s() const { return drain_rate_.load(); }
  //! Requests finished per second recently: how fast running slots free up (0: not known yet).
  double slot_release_per_s() const { return slot_release_rate_.load(); }
  //! Seconds until each running request frees its slot at the latest (its remaining prefill and
  //! max_tokens times the recent step time), ascending; as of the last step.
  std::vector<double> slot_free_in_s() const;
  //! Recent wall time of one forward step, seconds (0 before the first).
  double step_seconds() const { return step_seconds_.load(); }
  int64_t kv_blocks_total() const;
  //! Requests preempted so far because the KV pool ran out of blocks.
  int64_t preemptions() const { return preemptions_.load(); }
  const SchedulerOptions& options() const { return options_; }
  //! Runs one short request through the engine (readiness warm-up); call after start().
  [[nodiscard]] Status warm_up();

 private:
  struct Active;
  void loop();
  //! One engine step: drop cancelled requests, admit, make room in the KV pool, forward the
  //! batch, then stream each request's token and finish the ones that ended. False when there
  //! was nothing to run.
  bool step();
  //! Plans the batch and frees KV blocks for it (evicting cached prefixes, then preempting the
  //! newest request); false when the lone running request could not fit and was ended.
  bool make_room_for_batch();
  void update_rates(int64_t step_start_ns, int64_t now_ns);
  //! Samples and streams each batch owner's token; marks the ones that ended (finish_reason).
  void emit_tokens(int64_t now_ns);
  void finish_ended();
  void finish(Active& a, engine::FinishReason reason, const std::string& error = {});
  //! The waiting request whose turn it is (round robin over tenants), without taking it.
  std::map<std::string, std::deque<std::shared_ptr<SchedulerRequest>>>::iterator next_tenant();
  void admit_waiting();
  //! Whether the pool can take a sequence of n_tokens now, next to the running ones.
  bool kv_fits(int64_t n_tokens);
  //! Fills batch_ for one step (decode tokens first, then prefill chunks) without changing any
  //! request; the chunks to commit when the step runs go to chunks_.
  void plan_batch();
  void preempt(Active* victim);
  void cancel_dropped();
  // Gauges: every change of the running and waiting counts goes through these.
  void add_running(int64_t delta);
  void add_waiting(int64_t delta);
  void publish_kv();

  const engine::Model& model_;
  SchedulerOptions options_;
  ServeMetrics* metrics_;
  std::unique_ptr<engine::Context> context_;
  std::unique_ptr<PrefixCache> prefix_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<SchedulerRequest>> inbox_;
  bool stopping_ = false, drain_ = true;

  // Engine-thread state.
  std::map<std::string, std::deque<std::shared_ptr<SchedulerRequest>>> waiting_by_tenant_;
  std::string last_tenant_;
  std::vector<std::unique_ptr<Active>> active_;
  std::deque<std::unique_ptr<Active>> preempted_;  // readmitted before any waiting request
  int64_t next_order_ = 0;                         // admission order: the newest is preempted first
  struct Chunk {
    Active* active;
    int64_t tokens;
  };
  std::vector<Chunk> chunks_;
  std::vector<engine::BatchToken> batch_;
  std::vector<Active*> batch_owner_;  // per batch entry with logits: whose they are

  std::atomic<int64_t> waiting_count_{0}, running_count_{0}, queued_tokens_{0}, preemptions_{0};
  std::atomic<double> drain_rate_{0};
  std::atomic<double> slot_release_rate_{0};
  int64_t rate_window_start_ns_ = 0, rate_window_tokens_ = 0, rate_window_finished_ = 0;
  std::atomic<double> step_seconds_{0};  // recent wall time of one step (moving average)
  void publish_slot_free_times();
  mutable std::mutex slot_free_mutex_;
  std::vector<double> slot_free_in_s_;
  std::thread thread_;
};

}  // namespace keel::serve
