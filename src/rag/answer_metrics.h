// What keel rag serve measures, in the Prometheus text format on GET /metrics: the names the
// enterprise-rag plan promises (contract/scenario_plans.cpp), every one moved by real answers.
//
// Contract: thread-safe. record_answer() takes an answer (answer_service.h) and its seconds;
// record_refusal() a request refused before any answer (a bad token: rule "identity");
// record_rejection() one refused by admission.
#pragma once

#include <atomic>
#include <string>

#include "core/json.h"
#include "core/metrics.h"

namespace keel::rag {

class AnswerMetrics {
 public:
  AnswerMetrics();

  void record_answer(const Json& answer, double seconds);
  void record_refusal(double seconds);
  void record_rejection();
  std::string render() const { return registry_.render(); }

 private:
  MetricsRegistry registry_;
  MetricFamily<Counter>& answers_;
  MetricFamily<Counter>& denials_;
  MetricFamily<Counter>& metric_requests_;
  MetricFamily<Counter>& rejections_;
  MetricFamily<Counter>& compositions_;
  MetricFamily<Counter>& model_tokens_;
  Histogram& e2e_;
  std::atomic<uint64_t> answered_{0}, answered_with_evidence_{0};
};

}  // namespace keel::rag
