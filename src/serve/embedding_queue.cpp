#include "serve/embedding_queue.h"

#include <algorithm>
#include <chrono>

#include "core/clock.h"
#include "core/log.h"

namespace keel::serve {

EmbeddingQueue::EmbeddingQueue(EmbedSlice embed, Options options, ServeMetrics* metrics)
    : embed_(std::move(embed)), options_(options), metrics_(metrics) {
  options_.inputs_per_slice = std::max<size_t>(1, options_.inputs_per_slice);
  thread_ = std::thread([this] { loop(); });
}

EmbeddingQueue::~EmbeddingQueue() {
  stop();
}

AdmissionDecision EmbeddingQueue::submit(std::shared_ptr<EmbeddingJob> job,
                                         const AdmissionLimits& limits) {
  std::lock_guard lock(mutex_);
  if (stopping_) return {false, "draining", 1, "the server is shutting down"};
  const int64_t jobs = jobs_.load();
  const double slice_s = slice_seconds_.load();
  QueueState s;
  s.running = std::min<int64_t>(jobs, 1);
  s.waiting = jobs - s.running;
  s.max_running = 1;
  s.queued_tokens =
      remaining_inputs_.load();  // in inputs: Retry-After is inputs over inputs per second
  s.drain_tokens_per_s = slice_s > 0 ? static_cast<double>(options_.inputs_per_slice) / slice_s : 0;
  s.new_request_hold_s =
      static_cast<double>(jobs) * slice_s;  // round robin: one slice of each job ahead
  AdmissionLimits l = limits;
  l.max_queued_tokens = 0;  // a token bound of generation; embeddings are bounded by count and wait
  AdmissionDecision d = admit(s, l, 0);
  if (!d.admitted) return d;
  jobs_ += 1;
  remaining_inputs_ += static_cast<int64_t>(job->inputs.size());
  if (metrics_) metrics_->embedding_requests.inc();
  queue_.push_back({std::move(job), 0});
  wake_.notify_one();
  return d;
}

void EmbeddingQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EmbeddingQueue::end(EmbeddingJob& job, size_t done_inputs) {
  remaining_inputs_ -=
      static_cast<int64_t>(job.inputs.size() - std::min(done_inputs, job.inputs.size()));
  jobs_ -= 1;
  if (metrics_) metrics_->embedding_requests.dec();
  if (job.on_done) job.on_done(job);
}

void EmbeddingQueue::loop() {
  for (;;) {
    Queued q;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      q = std::move(queue_.front());
      queue_.pop_front();
      if (options_.slice_delay_ms > 0 && !q.job->cancelled.load()) {
        wake_.wait_for(lock, std::chrono::milliseconds(options_.slice_delay_ms),
                       [&] { return stopping_; });
        if (stopping_) {
          queue_.push_front(std::move(q));
          break;
        }
      }
    }
    EmbeddingJob& job = *q.job;
    if (job.cancelled.load()) {
      end(job, q.next);
      continue;
    }
    const size_t n = std::min(options_.inputs_per_slice, job.inputs.size() - q.next);
    const int64_t start = monotonic_now_ns();
    auto vectors = embed_(std::span<const std::string>(job.inputs.data() + q.next, n), &job.tokens);
    const double seconds = static_cast<double>(monotonic_now_ns() - start) / 1e9;
    const double previous = slice_seconds_.load();
    slice_seconds_ = previous == 0 ? seconds : 0.8 * previous + 0.2 * seconds;
    if (!vectors.ok()) {
      job.error = vectors.status().message();
      end(job, q.next);
      continue;
    }
    for (auto& v : *vectors) job.vectors.push_back(std::move(v));
    q.next += n;
    remaining_inputs_ -= static_cast<int64_t>(n);
    if (metrics_) metrics_->embedding_inputs.inc(static_cast<double>(n));
    if (q.next == job.inputs.size()) {
      end(job, q.next);
      continue;
    }
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(q));
  }
  // Stopping: what is still queued ends cancelled.
  std::deque<Queued> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& q : left) {
    q.job->cancelled = true;
    end(*q.job, q.next);
  }
}

}  // namespace keel::serve
