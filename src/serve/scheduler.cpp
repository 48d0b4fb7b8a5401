#include "serve/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>

#include "core/clock.h"
#include "core/log.h"
#include "engine/text_stream.h"

namespace keel::serve {

// A request that holds a sequence in the context.
struct Scheduler::Active {
  std::shared_ptr<SchedulerRequest> request;
  int32_t seq = -1;
  int64_t prefilled = 0;  // prompt tokens in the KV cache (adopted or computed)
  int64_t cached = 0;     // of which adopted from the prefix cache
  std::vector<engine::TokenId> tokens;  // prompt then generated
  std::vector<engine::TokenId> generated;
  std::unique_ptr<engine::Sampler> sampler;
  std::unique_ptr<engine::TextStream> text;
  int64_t start_ns = 0, first_token_ns = 0, last_token_ns = 0;
  bool decoding() const { return prefilled == static_cast<int64_t>(request->prompt.size()); }
};

Scheduler::Scheduler(const engine::Model& model, const SchedulerOptions& options, ServeMetrics* metrics)
    : model_(model), options_(options), metrics_(metrics) {}

Scheduler::~Scheduler() { stop(false); }

int64_t Scheduler::kv_blocks_total() const { return context_ ? context_->kv_cache().n_blocks() : 0; }

Status Scheduler::start() {
  if (!context_) {
    engine::ContextOptions c;
    c.n_ctx = options_.n_ctx;
    c.n_batch = std::max(options_.token_budget, options_.max_running);
    c.n_seq_max = options_.max_running;
    c.max_outputs = options_.max_running;
    c.kv_block_size = options_.kv_block_size;
    c.kv_blocks = options_.max_running * ((options_.n_ctx + options_.kv_block_size - 1) / options_.kv_block_size) +
                  options_.extra_cache_blocks;
    c.n_threads = options_.threads;
    KEEL_ASSIGN_OR_RETURN(context_, engine::Context::create(model_, c));
    prefix_ = std::make_unique<PrefixCache>(context_->kv_cache(), options_.kv_block_size);
  }
  rate_window_start_ns_ = monotonic_now_ns();
  thread_ = std::thread([this] { loop(); });
  return Status();
}

Status Scheduler::warm_up() {
  if (!thread_.joinable()) return Status::failed_precondition("start() the scheduler before warming up");
  // One tiny forward on a throwaway sequence: pages the weights in and checks the math runs.
  std::promise<RequestOutcome> done;
  struct WarmSink : RequestSink {
    std::promise<RequestOutcome>* p;
    void on_text(std::string_view, const std::vector<engine::TokenLogprob>*) override {}
    void on_finish(const RequestOutcome& o) override { p->set_value(o); }
  };
  auto sink = std::make_shared<WarmSink>();
  sink->p = &done;
  auto r = std::make_shared<SchedulerRequest>();
  r->tenant = "__warmup";
  r->prompt = model_.tokenizer().encode("Hello", true, false);
  if (r->prompt.empty()) r->prompt.push_back(0);
  r->max_tokens = 1;
  r->sampling.temperature = 0;
  r->arrival_ns = monotonic_now_ns();
  r->sink = sink;
  submit(r);
  RequestOutcome o = done.get_future().get();
  if (!o.error.empty()) return Status::internal("warm-up failed: " + o.error);
  return Status();
}

void Scheduler::submit(std::shared_ptr<SchedulerRequest> request) {
  queued_tokens_ += static_cast<int64_t>(request->prompt.size()) + request->max_tokens;
  ++waiting_count_;
  {
    std::lock_guard lock(mutex_);
    inbox_.push_back(std::move(request));
  }
  wake_.notify_one();
}

void Scheduler::stop(bool drain) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    drain_ = drain;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<SchedulerRequest> Scheduler::next_waiting() {
  // Round robin over tenants: the first tenant after the one served last that has work.
  if (waiting_by_tenant_.empty()) return nullptr;
  auto it = waiting_by_tenant_.upper_bound(last_tenant_);
  if (it == waiting_by_tenant_.end()) it = waiting_by_tenant_.begin();
  auto request = it->second.front();
  it->second.pop_front();
  last_tenant_ = it->first;
  if (it->second.empty()) waiting_by_tenant_.erase(it);
  // Running first, then waiting: admission always sees the request in one of the two counts
  // (a slot that looked free for a moment would admit a request that then waits).
  ++running_count_;
  --waiting_count_;
  return request;
}

void Scheduler::finish(Active& a, engine::FinishReason reason, const std::string& error) {
  const int64_t now = monotonic_now_ns();
  RequestOutcome o;
  o.reason = reason;
  o.error = error;
  o.prompt_tokens = static_cast<int64_t>(a.request->prompt.size());
  o.completion_tokens = static_cast<int64_t>(a.generated.size());
  o.cached_tokens = a.cached;
  o.queue_seconds = (a.start_ns - a.request->arrival_ns) / 1e9;
  o.ttft_seconds = a.first_token_ns ? (a.first_token_ns - a.request->arrival_ns) / 1e9 : 0;
  o.tpot_seconds = a.generated.size() > 1 ? (a.last_token_ns - a.first_token_ns) / 1e9 / (a.generated.size() - 1) : 0;
  o.e2e_seconds = (now - a.request->arrival_ns) / 1e9;
  if (a.seq >= 0) {
    // Remember this sequence's full blocks for later requests with the same prefix.
    if (options_.prefix_caching && error.empty() && reason != engine::FinishReason::cancelled) {
      const int64_t stored = context_->sequence_length(a.seq);
      prefix_->insert(std::span<const engine::TokenId>(a.tokens.data(), static_cast<size_t>(stored)),
                      context_->block_table(a.seq));
    }
    context_->remove_sequence(a.seq);
    a.seq = -1;
  }
  queued_tokens_ -= static_cast<int64_t>(a.request->prompt.size()) + a.request->max_tokens;
  if (a.first_token_ns) ++rate_window_finished_;
  if (metrics_ && a.request->tenant != "__warmup") {
    metrics_->queue.observe(o.queue_seconds);
    if (a.first_token_ns) metrics_->ttft.observe(o.ttft_seconds);
    if (a.generated.size() > 1) metrics_->tpot.observe(o.tpot_seconds);
    metrics_->e2e.observe(o.e2e_seconds);
    if (reason != engine::FinishReason::cancelled && error.empty() && a.first_token_ns) {
      metrics_->record_outcome(o.ttft_seconds, o.tpot_seconds);
    }
  }
  a.request->sink->on_finish(o);
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !inbox_.empty() || !active_.empty() || !waiting_by_tenant_.empty(); });
      while (!inbox_.empty()) {
        auto r = std::move(inbox_.front());
        inbox_.pop_front();
        waiting_by_tenant_[r->tenant].push_back(std::move(r));
      }
      if (stopping_ && !drain_) {
        for (auto& [t, q] : waiting_by_tenant_) {
          for (auto& r : q) r->cancelled = true;
        }
        for (auto& a : active_) a->request->cancelled = true;
      }
      if (stopping_ && active_.empty() && waiting_by_tenant_.empty()) break;
    }
    if (!step()) std::this_thread::yield();
  }
  // Whatever is left (stop without drain) ends as cancelled.
  for (auto& [t, q] : waiting_by_tenant_) {
    for (auto& r : q) {
      Active a;
      a.request = r;
      a.start_ns = monotonic_now_ns();
      finish(a, engine::FinishReason::cancelled);
    }
  }
  waiting_by_tenant_.clear();
}

bool Scheduler::step() {
  const int64_t bs = options_.kv_block_size;
  // Requests whose clients left.
  for (auto it = active_.begin(); it != active_.end();) {
    if ((*it)->request->cancelled.load()) {
      finish(**it, engine::FinishReason::cancelled);
      it = active_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto tenant = waiting_by_tenant_.begin(); tenant != waiting_by_tenant_.end();) {
    auto& q = tenant->second;
    for (auto r = q.begin(); r != q.end();) {
      if ((*r)->cancelled.load()) {
        Active a;
        a.request = *r;
        a.start_ns = monotonic_now_ns();
        --waiting_count_;
        finish(a, engine::FinishReason::cancelled);
        r = q.erase(r);
      } else {
        ++r;
      }
    }
    tenant = q.empty() ? waiting_by_tenant_.erase(tenant) : std::next(tenant);
  }

  // Admit waiting requests into free slots, reusing cached prefix blocks.
  while (static_cast<int64_t>(active_.size()) < options_.max_running) {
    auto r = next_waiting();
    if (!r) break;
    auto a = std::make_unique<Active>();
    a->request = r;
    a->start_ns = monotonic_now_ns();
    a->tokens = r->prompt;
    a->sampler = std::make_unique<engine::Sampler>(r->sampling, model_.config().n_vocab);
    a->text = std::make_unique<engine::TextStream>(r->stop);
    auto seq = context_->add_sequence();
    if (!seq.ok()) {  // cannot happen: slots are counted
      finish(*a, engine::FinishReason::cancelled, seq.status().message());
      continue;
    }
    a->seq = *seq;
    if (options_.prefix_caching && r->prompt.size() > 1) {
      // Keep at least the last prompt token to compute: its logits start generation.
      auto prompt = std::span<const engine::TokenId>(r->prompt.data(), r->prompt.size() - 1);
      auto blocks = prefix_->lookup(prompt);
      if (!blocks.empty()) {
        int64_t n = static_cast<int64_t>(blocks.size()) * bs;
        if (context_->adopt_prefix(a->seq, blocks, n).ok()) {
          a->prefilled = a->cached = n;
        }
      }
    }
    if (metrics_ && r->tenant != "__warmup") {
      metrics_->prompt_tokens.inc(static_cast<double>(r->prompt.size()));
      metrics_->prefix_hit_tokens.inc(static_cast<double>(a->cached));
      metrics_->prefill_avoided.inc(static_cast<double>(a->cached));
    }
    active_.push_back(std::move(a));
  }
  running_count_ = static_cast<int64_t>(active_.size());
  if (metrics_) {
    metrics_->running.set(static_cast<double>(active_.size()));
    metrics_->waiting.set(static_cast<double>(waiting_count_.load()));
  }
  if (active_.empty()) return false;

  // One step: every decoding request's next token, then prefill chunks in the remaining budget.
  batch_.clear();
  batch_owner_.clear();
  int64_t budget = std::max(options_.token_budget, static_cast<int64_t>(active_.size()));
  for (auto& a : active_) {
    if (!a->decoding()) continue;
    batch_.push_back({a->tokens.back(), a->seq, context_->sequence_length(a->seq), true});
    batch_owner_.push_back(a.get());
    --budget;
  }
  for (auto& a : active_) {
    if (a->decoding() || budget <= 0) continue;
    const int64_t total = static_cast<int64_t>(a->request->prompt.size());
    const int64_t chunk = std::min(budget, total - a->prefilled);
    for (int64_t i = 0; i < chunk; ++i) {
      int64_t pos = a->prefilled + i;
      bool last = pos + 1 == total;
      batch_.push_back({a->request->prompt[pos], a->seq, pos, last});
      if (last) batch_owner_.push_back(a.get());
    }
    a->prefilled += chunk;
    budget -= chunk;
  }
  if (batch_.empty()) return false;
  // Make room in the KV pool: new blocks come from the free list or from evicted prefixes.
  int64_t needed = 0;
  for (const auto& t : batch_) needed += t.pos % bs == 0;
  auto& kv = context_->kv_cache();
  if (needed > kv.free_blocks()) prefix_->evict(needed - kv.free_blocks());

  const int64_t step_start = monotonic_now_ns();
  if (options_.step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options_.step_delay_ms));
  Status s = context_->decode(batch_);
  if (!s.ok()) {
    log_error("scheduler: forward step failed: {}", s.to_string());
    for (auto& a : active_) finish(*a, engine::FinishReason::cancelled, s.message());
    active_.clear();
    return true;
  }
  const int64_t now = monotonic_now_ns();
  const double step_s = (now - step_start) / 1e9;
  const double previous_step_s = step_seconds_.load();
  step_seconds_ = previous_step_s == 0 ? step_s : 0.8 * previous_step_s + 0.2 * step_s;
  rate_window_tokens_ += static_cast<int64_t>(batch_.size());
  if (now - rate_window_start_ns_ > 1'000'000'000) {
    double rate = rate_window_tokens_ / ((now - rate_window_start_ns_) / 1e9);
    double previous = drain_rate_.load();
    drain_rate_ = previous == 0 ? rate : 0.7 * previous + 0.3 * rate;
    double released = rate_window_finished_ / ((now - rate_window_start_ns_) / 1e9);
    double previous_released = slot_release_rate_.load();
    slot_release_rate_ = previous_released == 0 ? released : 0.7 * previous_released + 0.3 * released;
    rate_window_start_ns_ = now;
    rate_window_tokens_ = 0;
    rate_window_finished_ = 0;
  }
  if (metrics_) {
    metrics_->kv_used_ratio.set(1.0 - static_cast<double>(kv.free_blocks()) / std::max<int64_t>(1, kv.n_blocks()));
  }

  const auto& tokenizer = model_.tokenizer();
  std::vector<Active*> done;
  for (size_t i = 0; i < batch_owner_.size(); ++i) {
    Active* a = batch_owner_[i];
    auto logits = context_->logits(i);
    engine::TokenId token = a->sampler->sample(logits, a->tokens);
    std::vector<engine::TokenLogprob> lp;
    if (a->request->top_logprobs >= 0) lp = engine::top_logprobs(logits, token, a->request->top_logprobs);
    if (a->first_token_ns == 0) {
      a->first_token_ns = now;
      // The prompt's full blocks are final now: share them with requests that arrive while this
      // one still generates (a common system prompt is then computed once, not once per wave).
      if (options_.prefix_caching) {
        prefix_->insert(a->request->prompt, context_->block_table(a->seq));
      }
    } else if (metrics_) {
      metrics_->inter_token.observe((now - a->last_token_ns) / 1e9);
    }
    a->last_token_ns = now;
    if (tokenizer.is_end_of_generation(token)) {
      a->request->sink->on_text(a->text->flush(), nullptr);
      done.push_back(a);
      a->sampler.reset();  // marks: finish with end_of_generation
      continue;
    }
    a->tokens.push_back(token);
    a->generated.push_back(token);
    if (metrics_ && a->request->tenant != "__warmup") metrics_->generation_tokens.inc();
    std::string_view delta = a->text->append(tokenizer.token_to_piece(token));
    a->request->sink->on_text(delta, lp.empty() ? nullptr : &lp);
    if (a->text->stopped() || static_cast<int64_t>(a->generated.size()) >= a->request->max_tokens ||
        context_->sequence_length(a->seq) >= options_.n_ctx) {
      if (!a->text->stopped()) a->request->sink->on_text(a->text->flush(), nullptr);
      done.push_back(a);
    }
  }
  for (Active* a : done) {
    engine::FinishReason reason = !a->sampler                                              ? engine::FinishReason::end_of_generation
                                  : a->text->stopped()                                     ? engine::FinishReason::stop
                                  : context_->sequence_length(a->seq) >= options_.n_ctx ? engine::FinishReason::context_full
                                                                                           : engine::FinishReason::length;
    finish(*a, reason);
    active_.erase(std::find_if(active_.begin(), active_.end(), [&](const auto& p) { return p.get() == a; }));
  }
  running_count_ = static_cast<int64_t>(active_.size());
  publish_slot_free_times();
  return true;
}

void Scheduler::publish_slot_free_times() {
  std::vector<double> times;
  times.reserve(active_.size());
  const int64_t budget = std::max<int64_t>(1, options_.token_budget);
  const double step_s = step_seconds_.load();
  for (const auto& a : active_) {
    const int64_t prefill_left = static_cast<int64_t>(a->request->prompt.size()) - a->prefilled;
    const int64_t steps = (prefill_left + budget - 1) / budget +
                          std::max<int64_t>(0, a->request->max_tokens - static_cast<int64_t>(a->generated.size()));
    times.push_back(static_cast<double>(steps) * step_s);
  }
  std::sort(times.begin(), times.end());
  std::lock_guard lock(slot_free_mutex_);
  slot_free_in_s_ = std::move(times);
}

std::vector<double> Scheduler::slot_free_in_s() const {
  std::lock_guard lock(slot_free_mutex_);
  return slot_free_in_s_;
}

}  // namespace keel::serve
