#include "serve/serve_metrics.h"

namespace keel::serve {

namespace {
std::vector<double> token_latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5};
}
}  // namespace

ServeMetrics::ServeMetrics(MetricsRegistry& r, SloThresholds slo, double window_s)
    : ttft(r.histogram("keel_time_to_first_token_seconds",
                       "Time from arrival to the first generated token.", latency_seconds_buckets())
               .get()),
      tpot(r.histogram("keel_time_per_output_token_seconds",
                       "Mean time per generated token after the first, per request.",
                       token_latency_buckets())
               .get()),
      inter_token(r.histogram("keel_inter_token_latency_seconds",
                              "Time between consecutive streamed tokens.", token_latency_buckets())
                      .get()),
      queue(r.histogram("keel_request_queue_seconds", "Time from arrival to the start of prefill.",
                        latency_seconds_buckets())
                .get()),
      e2e(r.histogram("keel_e2e_request_seconds", "Time from arrival to the last token.",
                      latency_seconds_buckets())
              .get()),
      running(r.gauge("keel_requests_running", "Requests being prefilled or decoded.").get()),
      waiting(r.gauge("keel_requests_waiting", "Admitted requests waiting for a slot.").get()),
      kv_used_ratio(r.gauge("keel_kv_blocks_used_ratio",
                            "Share of KV cache blocks in use (cached prefixes included).")
                        .get()),
      kv_cached_ratio(
          r.gauge("keel_kv_blocks_cached_ratio",
                  "Share of KV cache blocks held only by the prefix cache (evictable on demand).")
              .get()),
      prompt_tokens(
          r.counter("keel_prompt_tokens_total", "Prompt tokens of admitted requests.").get()),
      generation_tokens(r.counter("keel_generation_tokens_total", "Generated tokens.").get()),
      prefix_hit_tokens(r.counter("keel_prefix_cache_hit_tokens_total",
                                  "Prompt tokens found in the prefix cache.")
                            .get()),
      prefill_avoided(r.counter("keel_prefill_tokens_avoided_total",
                                "Prompt tokens not prefilled thanks to the prefix cache.")
                          .get()),
      goodput_requests(r.counter("keel_goodput_requests_total",
                                 "Requests that met both the TTFT and the TPOT objective.")
                           .get()),
      kv_preemptions(r.counter("keel_kv_preemptions_total",
                               "Running requests preempted because the KV cache ran out of blocks "
                               "(re-queued and recomputed).")
                         .get()),
      rejections(r.counter("keel_admission_rejections_total",
                           "Requests refused at admission, by reason.", {"reason"})),
      requests(r.counter("keel_requests_total", "Finished requests by HTTP status and tenant.",
                         {"status", "tenant"})),
      embedding_requests(
          r.gauge("keel_embedding_requests_active", "Embedding requests admitted and not finished.").get()),
      embedding_inputs(r.counter("keel_embedding_inputs_total", "Embedding inputs tokenized and embedded.").get()),
      tokenizing(r.gauge("keel_requests_tokenizing", "Generation requests whose prompt is being tokenized.").get()),
      connections_open(r.gauge("keel_connections_open", "Open client connections.").get()),
      connections_refused(r.counter("keel_connections_refused_total",
                                    "Connections closed at accept: past max_connections (and the probe "
                                    "slots) or past the per-peer cap.",
                                    {"reason"})),
      connection_timeouts(r.counter("keel_connection_timeouts_total",
                                    "Connections closed for missing a deadline: the request head, the "
                                    "body, or idle keep-alive.",
                                    {"phase"})),
      accept_errors(r.counter("keel_accept_errors_total",
                              "Failed accept() calls, by reason (fd_limit: out of file descriptors).",
                              {"reason"})),
      slo_(slo),
      window_s_(window_s) {
  r.gauge_callback("keel_goodput_ratio", "Share of requests meeting both latency objectives over the last minute.",
                   [this] { return goodput_ratio(); });
  // Every refusal reason is exported from the start (at 0), so a dashboard's rate() over it
  // works before the first refusal.
  for (const char* reason : {"queue_full", "queued_tokens", "queue_wait", "tenant_quota"})
    rejections.labels({reason});
  for (const char* reason : {"max_connections", "per_peer"}) connections_refused.labels({reason});
  for (const char* phase : {"header", "body", "idle"}) connection_timeouts.labels({phase});
  for (const char* reason : {"fd_limit", "other"}) accept_errors.labels({reason});
}

void ServeMetrics::record_outcome(double ttft_seconds, double tpot_seconds) {
  bool met = ttft_seconds <= slo_.ttft_seconds && tpot_seconds <= slo_.tpot_seconds;
  if (met) goodput_requests.inc();
  std::lock_guard lock(mutex_);
  outcomes_.emplace_back(std::chrono::steady_clock::now(), met);
}

double ServeMetrics::goodput_ratio() {
  std::lock_guard lock(mutex_);
  auto cutoff = std::chrono::steady_clock::now() - std::chrono::duration<double>(window_s_);
  while (!outcomes_.empty() && outcomes_.front().first < cutoff) outcomes_.pop_front();
  if (outcomes_.empty()) return 1.0;
  int met = 0;
  for (const auto& o : outcomes_) met += o.second;
  return static_cast<double>(met) / outcomes_.size();
}

}  // namespace keel::serve
