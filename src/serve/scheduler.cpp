#include "serve/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>

#include "core/clock.h"
#include "core/log.h"
#include "engine/text_stream.h"

namespace keel::serve {

// A request that holds a sequence in the context (or, preempted, waits to get one back).
//
// While prefilling, `prefilled` of the first `prefill_target` tokens are in the KV cache; the
// last of them yields the logits of the next token. While decoding, the cache holds every
// token but the last one sampled, which the next step feeds. A preempted request keeps its
// tokens, sampler and text stream: readmitted, its prefill target is everything it has (prompt
// and generated tokens), so the step that completes that prefill samples exactly the token
// the next decode step would have.
struct Scheduler::Active {
  std::shared_ptr<SchedulerRequest> request;
  int32_t seq = -1;
  int64_t order = 0;           // admission order, kept across preemption (newest goes first)
  int64_t prefilled = 0;       // tokens in the KV cache by prefill (adopted or computed)
  int64_t prefill_target = 0;  // tokens to prefill before decoding
  int64_t cached = 0;          // prompt tokens adopted from the prefix cache on first admission
  std::vector<engine::TokenId> tokens;  // prompt then generated
  std::vector<engine::TokenId> generated;
  std::unique_ptr<engine::Sampler> sampler;
  std::unique_ptr<engine::TextStream> text;
  int64_t start_ns = 0, first_token_ns = 0, last_token_ns = 0;
  std::optional<engine::FinishReason> finish_reason;  // set by the step that ends it
  bool decoding() const { return prefilled == prefill_target; }
};

Scheduler::Scheduler(const engine::Model& model, const SchedulerOptions& options, ServeMetrics* metrics)
    : model_(model), options_(options), metrics_(metrics) {}

Scheduler::~Scheduler() { stop(false); }

int64_t Scheduler::kv_blocks_total() const { return context_ ? context_->kv_cache().n_blocks() : 0; }

Status Scheduler::start() {
  if (!context_) {
    const int64_t context_blocks =
        (options_.n_ctx + options_.kv_block_size - 1) / options_.kv_block_size;
    if (options_.kv_blocks > 0 && options_.kv_blocks < context_blocks) {
      return Status::invalid_argument(fmt::format(
          "a KV pool of {} blocks cannot hold one full context of {} tokens ({} blocks of {})",
          options_.kv_blocks, options_.n_ctx, context_blocks, options_.kv_block_size));
    }
    engine::ContextOptions c;
    c.n_ctx = options_.n_ctx;
    c.n_batch = std::max(options_.token_budget, options_.max_running);
    c.n_seq_max = options_.max_running;
    c.max_outputs = options_.max_running;
    c.kv_block_size = options_.kv_block_size;
    c.kv_blocks = options_.kv_blocks > 0
                      ? options_.kv_blocks
                      : options_.max_running * context_blocks + options_.extra_cache_blocks;
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
  r->tenant = "keel-warm-up";
  r->record_metrics = false;
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
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queued_tokens_ += static_cast<int64_t>(request->prompt.size()) + request->max_tokens;
      add_waiting(1);
      inbox_.push_back(std::move(request));
    }
  }
  if (!request) {
    wake_.notify_one();
    return;
  }
  // Stopping: the engine thread may have ended already, so nothing would ever run it.
  RequestOutcome o;
  o.reason = engine::FinishReason::cancelled;
  o.prompt_tokens = static_cast<int64_t>(request->prompt.size());
  request->sink->on_finish(o);
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

void Scheduler::interrupt() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_ = false;
  }
  wake_.notify_all();
}

void Scheduler::add_running(int64_t delta) {
  running_count_ += delta;
  if (metrics_) metrics_->running.inc(static_cast<double>(delta));
}

void Scheduler::add_waiting(int64_t delta) {
  waiting_count_ += delta;
  if (metrics_) metrics_->waiting.inc(static_cast<double>(delta));
}

void Scheduler::publish_kv() {
  if (!metrics_ || !context_) return;
  const auto& kv = context_->kv_cache();
  const double total = static_cast<double>(std::max<int64_t>(1, kv.n_blocks()));
  metrics_->kv_used_ratio.set(1.0 - static_cast<double>(kv.free_blocks()) / total);
  metrics_->kv_cached_ratio.set(static_cast<double>(prefix_->evictable_blocks()) / total);
}

std::map<std::string, std::deque<std::shared_ptr<SchedulerRequest>>>::iterator
Scheduler::next_tenant() {
  // Round robin over tenants: the first tenant after the one served last that has work.
  if (waiting_by_tenant_.empty()) return waiting_by_tenant_.end();
  auto it = waiting_by_tenant_.upper_bound(last_tenant_);
  return it == waiting_by_tenant_.end() ? waiting_by_tenant_.begin() : it;
}

bool Scheduler::kv_fits(int64_t n_tokens) {
  if (active_.empty()) return true;  // a full context always fits an empty pool (start() checks)
  const int64_t bs = options_.kv_block_size;
  // The blocks of its tokens and its first new one, and a new block for every running
  // sequence whose next token starts one. With the default pool (max_running full contexts)
  // this always holds while a slot is free, so only a smaller pool ever makes a request wait.
  const int64_t need = (std::min(n_tokens + 1, options_.n_ctx) + bs - 1) / bs;
  int64_t growth = 0;
  for (const auto& a : active_) growth += context_->sequence_length(a->seq) % bs == 0;
  const auto& kv = context_->kv_cache();
  return need + growth <= kv.free_blocks() + prefix_->evictable_blocks();
}

void Scheduler::admit_waiting() {
  const int64_t bs = options_.kv_block_size;
  while (static_cast<int64_t>(active_.size()) < options_.max_running) {
    std::unique_ptr<Active> a;
    const bool resumed = !preempted_.empty();
    if (resumed) {
      // Preempted requests go first, oldest first; nothing passes one that does not fit yet.
      if (!kv_fits(static_cast<int64_t>(preempted_.front()->tokens.size()))) break;
      a = std::move(preempted_.front());
      preempted_.pop_front();
    } else {
      auto tenant = next_tenant();
      if (tenant == waiting_by_tenant_.end()) break;
      std::shared_ptr<SchedulerRequest> r = tenant->second.front();
      if (!kv_fits(static_cast<int64_t>(r->prompt.size()))) break;
      tenant->second.pop_front();
      last_tenant_ = tenant->first;
      if (tenant->second.empty()) waiting_by_tenant_.erase(tenant);
      a = std::make_unique<Active>();
      a->request = std::move(r);
      a->order = next_order_++;
      a->start_ns = monotonic_now_ns();
      a->tokens = a->request->prompt;
      a->sampler = std::make_unique<engine::Sampler>(a->request->sampling, model_.config().n_vocab);
      a->text = std::make_unique<engine::TextStream>(a->request->stop);
    }
    // Running first, then waiting: admission always sees the request in one of the two counts
    // (a slot that looked free for a moment would admit a request that then waits).
    add_running(1);
    add_waiting(-1);
    a->prefilled = 0;
    a->prefill_target = static_cast<int64_t>(a->tokens.size());
    auto seq = context_->add_sequence();
    if (!seq.ok()) {  // cannot happen: slots are counted
      add_running(-1);
      finish(*a, engine::FinishReason::cancelled, seq.status().message());
      continue;
    }
    a->seq = *seq;
    if (options_.prefix_caching && a->tokens.size() > 1) {
      // Keep at least the last token to compute: its logits give the next token.
      auto known = std::span<const engine::TokenId>(a->tokens.data(), a->tokens.size() - 1);
      auto blocks = prefix_->lookup(known);
      if (!blocks.empty()) {
        int64_t n = static_cast<int64_t>(blocks.size()) * bs;
        if (context_->adopt_prefix(a->seq, blocks, n).ok()) {
          a->prefilled = n;
          if (!resumed) a->cached = n;
        }
      }
    }
    if (!resumed && metrics_ && a->request->record_metrics) {
      metrics_->prompt_tokens.inc(static_cast<double>(a->request->prompt.size()));
      metrics_->prefix_hit_tokens.inc(static_cast<double>(a->cached));
      metrics_->prefill_avoided.inc(static_cast<double>(a->cached));
    }
    active_.push_back(std::move(a));
  }
}

void Scheduler::preempt(Active* victim) {
  auto it = std::find_if(active_.begin(), active_.end(),
                         [&](const auto& p) { return p.get() == victim; });
  Active& a = *victim;
  // Its full blocks go to the prefix cache: evicted like any unreferenced prefix when the
  // memory is needed, adopted again on readmission when it is not.
  if (options_.prefix_caching) {
    const int64_t stored = context_->sequence_length(a.seq);
    prefix_->insert(std::span<const engine::TokenId>(a.tokens.data(), static_cast<size_t>(stored)),
                    context_->block_table(a.seq));
  }
  context_->remove_sequence(a.seq);
  a.seq = -1;
  a.prefilled = 0;
  ++preemptions_;
  if (metrics_ && a.request->record_metrics) metrics_->kv_preemptions.inc();
  log_debug("scheduler: KV cache full; preempted a request of tenant '{}' after {} tokens",
            a.request->tenant, a.tokens.size());
  preempted_.push_front(std::move(*it));
  active_.erase(it);
  add_waiting(1);
  add_running(-1);
}

void Scheduler::cancel_dropped() {
  for (auto it = active_.begin(); it != active_.end();) {
    if ((*it)->request->cancelled.load()) {
      add_running(-1);
      finish(**it, engine::FinishReason::cancelled);
      it = active_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = preempted_.begin(); it != preempted_.end();) {
    if ((*it)->request->cancelled.load()) {
      add_waiting(-1);
      finish(**it, engine::FinishReason::cancelled);
      it = preempted_.erase(it);
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
        add_waiting(-1);
        finish(a, engine::FinishReason::cancelled);
        r = q.erase(r);
      } else {
        ++r;
      }
    }
    tenant = q.empty() ? waiting_by_tenant_.erase(tenant) : std::next(tenant);
  }
}

void Scheduler::plan_batch() {
  batch_.clear();
  batch_owner_.clear();
  chunks_.clear();
  int64_t budget = std::max(options_.token_budget, static_cast<int64_t>(active_.size()));
  for (auto& a : active_) {
    if (!a->decoding()) continue;
    batch_.push_back({a->tokens.back(), a->seq, context_->sequence_length(a->seq), true});
    batch_owner_.push_back(a.get());
    --budget;
  }
  for (auto& a : active_) {
    if (a->decoding() || budget <= 0) continue;
    const int64_t chunk = std::min(budget, a->prefill_target - a->prefilled);
    for (int64_t i = 0; i < chunk; ++i) {
      int64_t pos = a->prefilled + i;
      bool last = pos + 1 == a->prefill_target;
      batch_.push_back({a->tokens[pos], a->seq, pos, last});
      if (last) batch_owner_.push_back(a.get());
    }
    chunks_.push_back({a.get(), chunk});
    budget -= chunk;
  }
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
    publish_kv();  // before the client hears of the end
  }
  queued_tokens_ -= static_cast<int64_t>(a.request->prompt.size()) + a.request->max_tokens;
  if (a.first_token_ns) ++rate_window_finished_;
  if (metrics_ && a.request->record_metrics) {
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
      wake_.wait(lock, [&] {
        return stopping_ || !inbox_.empty() || !active_.empty() || !waiting_by_tenant_.empty() ||
               !preempted_.empty();
      });
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
        for (auto& a : preempted_) a->request->cancelled = true;
      }
      if (stopping_ && active_.empty() && waiting_by_tenant_.empty() && preempted_.empty()) break;
    }
    if (!step()) std::this_thread::yield();
  }
}

bool Scheduler::step() {
  cancel_dropped();
  admit_waiting();
  if (active_.empty()) {
    publish_kv();
    return false;
  }
  if (!make_room_for_batch()) return true;
  if (batch_.empty()) {
    publish_kv();
    return false;
  }
  for (const Chunk& c : chunks_) c.active->prefilled += c.tokens;

  const int64_t step_start = monotonic_now_ns();
  if (options_.step_delay_ms > 0) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(options_.step_delay_ms), [&] { return stopping_ && !drain_; });
  }
  Status s = context_->decode(batch_);
  if (!s.ok()) {
    log_error("scheduler: forward step failed: {}", s.to_string());
    for (auto& a : active_) {
      add_running(-1);
      finish(*a, engine::FinishReason::cancelled, s.message());
    }
    active_.clear();
    publish_kv();
    return true;
  }
  publish_kv();  // the step's new blocks, before any of its tokens reaches a client
  const int64_t now = monotonic_now_ns();
  update_rates(step_start, now);
  emit_tokens(now);
  finish_ended();
  publish_slot_free_times();
  publish_kv();
  return true;
}

bool Scheduler::make_room_for_batch() {
  // Every decoding request's next token, then prefill chunks in the remaining budget. New blocks
  // come from the free list, then from unreferenced cached prefixes, then from the newest running
  // request, preempted (only a pool smaller than max_running contexts runs out).
  const int64_t bs = options_.kv_block_size;
  auto& kv = context_->kv_cache();
  for (;;) {
    plan_batch();
    int64_t needed = 0;
    for (const auto& t : batch_) needed += t.pos % bs == 0;
    if (needed > kv.free_blocks()) prefix_->evict(needed - kv.free_blocks());
    if (needed <= kv.free_blocks()) return true;
    if (active_.size() == 1) {  // cannot happen: start() makes the pool hold a full context
      add_running(-1);
      finish(*active_.front(), engine::FinishReason::cancelled, "the KV cache cannot hold this request");
      active_.clear();
      publish_kv();
      return false;
    }
    auto newest = std::max_element(active_.begin(), active_.end(),
                                   [](const auto& x, const auto& y) { return x->order < y->order; });
    preempt(newest->get());
  }
}

void Scheduler::update_rates(int64_t step_start_ns, int64_t now_ns) {
  const double step_s = (now_ns - step_start_ns) / 1e9;
  const double previous_step_s = step_seconds_.load();
  step_seconds_ = previous_step_s == 0 ? step_s : 0.8 * previous_step_s + 0.2 * step_s;
  rate_window_tokens_ += static_cast<int64_t>(batch_.size());
  if (now_ns - rate_window_start_ns_ <= 1'000'000'000) return;
  const double window_s = (now_ns - rate_window_start_ns_) / 1e9;
  const double rate = rate_window_tokens_ / window_s;
  const double previous = drain_rate_.load();
  drain_rate_ = previous == 0 ? rate : 0.7 * previous + 0.3 * rate;
  const double released = rate_window_finished_ / window_s;
  const double previous_released = slot_release_rate_.load();
  slot_release_rate_ = previous_released == 0 ? released : 0.7 * previous_released + 0.3 * released;
  rate_window_start_ns_ = now_ns;
  rate_window_tokens_ = 0;
  rate_window_finished_ = 0;
}

void Scheduler::emit_tokens(int64_t now_ns) {
  const auto& tokenizer = model_.tokenizer();
  for (size_t i = 0; i < batch_owner_.size(); ++i) {
    Active* a = batch_owner_[i];
    auto logits = context_->logits(i);
    engine::TokenId token = a->sampler->sample(logits, a->tokens);
    std::vector<engine::TokenLogprob> lp;
    if (a->request->top_logprobs >= 0) lp = engine::top_logprobs(logits, token, a->request->top_logprobs);
    if (a->first_token_ns == 0) {
      a->first_token_ns = now_ns;
      // The prompt's full blocks are final now: share them with requests that arrive while this
      // one still generates (a common system prompt is then computed once, not once per wave).
      if (options_.prefix_caching) prefix_->insert(a->request->prompt, context_->block_table(a->seq));
    } else if (metrics_ && a->request->record_metrics) {
      metrics_->inter_token.observe((now_ns - a->last_token_ns) / 1e9);
    }
    a->last_token_ns = now_ns;
    if (tokenizer.is_end_of_generation(token)) {
      a->request->sink->on_text(a->text->flush(), nullptr);
      a->finish_reason = engine::FinishReason::end_of_generation;
      continue;
    }
    a->tokens.push_back(token);
    a->generated.push_back(token);
    if (metrics_ && a->request->record_metrics) metrics_->generation_tokens.inc();
    std::string_view delta = a->text->append(tokenizer.token_to_piece(token));
    a->request->sink->on_text(delta, lp.empty() ? nullptr : &lp);
    if (a->text->stopped()) {
      a->finish_reason = engine::FinishReason::stop;
    } else if (context_->sequence_length(a->seq) >= options_.n_ctx) {
      a->finish_reason = engine::FinishReason::context_full;
    } else if (static_cast<int64_t>(a->generated.size()) >= a->request->max_tokens) {
      a->finish_reason = engine::FinishReason::length;
    }
    if (a->finish_reason && !a->text->stopped()) a->request->sink->on_text(a->text->flush(), nullptr);
  }
}

void Scheduler::finish_ended() {
  for (auto it = active_.begin(); it != active_.end();) {
    Active& a = **it;
    if (!a.finish_reason) {
      ++it;
      continue;
    }
    add_running(-1);
    finish(a, *a.finish_reason);
    it = active_.erase(it);
  }
}

void Scheduler::publish_slot_free_times() {
  std::vector<double> times;
  times.reserve(active_.size());
  const int64_t budget = std::max<int64_t>(1, options_.token_budget);
  const double step_s = step_seconds_.load();
  for (const auto& a : active_) {
    const int64_t prefill_left = a->prefill_target - a->prefilled;
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
