// The server's metrics (Prometheus, served at /metrics): latency histograms, queue and KV
// gauges, token and request counters, and goodput — the share of requests that met both the
// time-to-first-token and the time-per-output-token objective — over a sliding window.
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
  Gauge& kv_used_ratio;
  Counter& prompt_tokens;
  Counter& generation_tokens;
  Counter& prefix_hit_tokens;
  Counter& prefill_avoided;
  Counter& goodput_requests;
  MetricFamily<Counter>& rejections;  //!< {reason}
  MetricFamily<Counter>& requests;    //!< {status, tenant}

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
