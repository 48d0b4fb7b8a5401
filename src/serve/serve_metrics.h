// The server's metrics (Prometheus, served at /metrics): latency histograms, queue and KV
// gauges, token and request counters, and goodput — the share of requests that met both the
// time-to-first-token and the time-per-output-token objective — over a sliding window.
//
// Gauges are kept by whoever changes the quantity, at the change: the scheduler moves
// running/waiting by +-1 wherever a request is queued, admitted, preempted or finished (for
// any reason), and sets the KV ratios after every step, so an idle server reads running 0,
// waiting 0 and KV used == KV cached (only the prefix cache holds blocks).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>

#include "core/metrics.h"

namespace keel::serve {

struct SloThresholds {
  double ttft_seconds = 2.0;
  double tpot_seconds = 0.15;
};

class ServeMetrics {
 public:
  ServeMetrics(MetricsRegistry& registry, SloThresholds slo, double goodput_window_s = 60);

  Histogram& ttft;
  Histogram& tpot;
  Histogram& inter_token;
  Histogram& queue;
  Histogram& e2e;
  Gauge& running;
  Gauge& waiting;
  Gauge& kv_used_ratio;    //!< blocks held by sequences or the prefix cache, over all blocks
  Gauge& kv_cached_ratio;  //!< blocks held only by the prefix cache (evictable), over all blocks
  Counter& prompt_tokens;
  Counter& generation_tokens;
  Counter& prefix_hit_tokens;
  Counter& prefill_avoided;
  Counter& goodput_requests;
  Counter& kv_preemptions;  //!< running requests preempted for KV blocks (re-queued, recomputed)
  MetricFamily<Counter>& rejections;  //!< {reason}; every reason starts at 0
  MetricFamily<Counter>& requests;    //!< {status, tenant}
  // Embeddings and the connection layer (see embedding_queue.h and connection_limits.h).
  Gauge& embedding_requests;  //!< embedding requests admitted and not finished
  Counter& embedding_inputs;  //!< inputs tokenized and embedded
  Gauge& tokenizing;          //!< generation requests being tokenized (off the I/O thread)
  Gauge& connections_open;
  MetricFamily<Counter>& connections_refused;  //!< {reason}: max_connections | per_peer
  MetricFamily<Counter>& connection_timeouts;  //!< {phase}: header | body | idle
  MetricFamily<Counter>& accept_errors;        //!< {reason}: fd_limit | other

  //! Records a finished request against the objectives.
  void record_outcome(double ttft_seconds, double tpot_seconds);
  double goodput_ratio();
  const SloThresholds& slo() const { return slo_; }

 private:
  SloThresholds slo_;
  double window_s_;
  std::mutex mutex_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, bool>> outcomes_;
};

}  // namespace keel::serve
