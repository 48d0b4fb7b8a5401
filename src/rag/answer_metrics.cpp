#include "rag/answer_metrics.h"

#include <limits>

namespace keel::rag {

AnswerMetrics::AnswerMetrics()
    : answers_(registry_.counter("keel_answers_total", "Answers by status (answered, limited, declined).", {"status"})),
      denials_(registry_.counter("keel_policy_denials_total",
                                 "Policy decisions that denied something, by rule (identity: a refused token).",
                                 {"rule"})),
      metric_requests_(registry_.counter("keel_semantic_metric_requests_total",
                                         "Typed metric requests, by outcome (answered, limited).", {"outcome"})),
      rejections_(registry_.counter("keel_admission_rejections_total", "Requests refused by admission, by reason.",
                                    {"reason"})),
      e2e_(registry_.histogram("keel_e2e_request_seconds", "Seconds from a request's arrival to its answer.",
                               latency_seconds_buckets())
               .get()) {
  for (const char* s : {"answered", "limited", "declined"}) answers_.labels({s});
  for (const char* r : {"identity", "catalog.roles", "document.acl", "tenant.row_filter"}) denials_.labels({r});
  for (const char* o : {"answered", "limited"}) metric_requests_.labels({o});
  rejections_.labels({"queue_full"});
  registry_.gauge_callback("keel_answers_with_provenance_ratio",
                           "Share of answered questions that carry evidence (passages or metric results).", [this] {
                             const auto n = answered_.load();
                             return n ? static_cast<double>(answered_with_evidence_.load()) / static_cast<double>(n)
                                      : std::numeric_limits<double>::quiet_NaN();  // none yet
                           });
}

void AnswerMetrics::record_answer(const Json& answer, double seconds) {
  const std::string status = answer.value("status", "");
  answers_.labels({status}).inc();
  for (const auto& d : answer["policy"])
    if (d["decision"] == "deny") denials_.labels({d["rule"].get<std::string>()}).inc();
  if (answer["route"]["source"] == "metric") metric_requests_.labels({status == "answered" ? "answered" : "limited"}).inc();
  if (status == "answered") {
    answered_.fetch_add(1);
    if (!answer["evidence"]["metrics"].empty() || !answer["evidence"]["passages"].empty())
      answered_with_evidence_.fetch_add(1);
  }
  e2e_.observe(seconds);
}

void AnswerMetrics::record_refusal(double seconds) {
  denials_.labels({"identity"}).inc();
  e2e_.observe(seconds);
}

void AnswerMetrics::record_rejection() { rejections_.labels({"queue_full"}).inc(); }

}  // namespace keel::rag
