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
      compositions_(registry_.counter(
          "keel_answer_compositions_total",
          "Who wrote each answered text: model (its figures checked), template (no model asked), rejected (the "
          "model's text stated a figure not in the evidence, or none it gives), route_refused (no model approved "
          "for the data class), failed (the model failed).",
          {"outcome"})),
      model_tokens_(registry_.counter("keel_model_tokens_total", "Tokens the answer model read and wrote.", {"kind"})),
      e2e_(registry_.histogram("keel_e2e_request_seconds", "Seconds from a request's arrival to its answer.",
                               latency_seconds_buckets())
               .get()) {
  for (const char* s : {"answered", "limited", "declined"}) answers_.labels({s});
  for (const char* r : {"identity", "catalog.roles", "document.acl", "tenant.row_filter"}) denials_.labels({r});
  for (const char* o : {"answered", "limited"}) metric_requests_.labels({o});
  rejections_.labels({"queue_full"});
  for (const char* o : {"model", "template", "rejected", "route_refused", "failed"}) compositions_.labels({o});
  for (const char* k : {"prompt", "completion"}) model_tokens_.labels({k});
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
  model_tokens_.labels({"prompt"}).inc(answer["cost"].value("prompt_tokens", 0.0));
  model_tokens_.labels({"completion"}).inc(answer["cost"].value("completion_tokens", 0.0));
  if (status == "answered") {
    std::string outcome = answer["route"].value("composer", "") == "model" ? "model" : "template";
    for (const auto& d : answer["policy"]) {
      if (d["rule"] == "router.data_class" && d["decision"] == "deny") outcome = "route_refused";
      if (d["rule"] == "composer.figures" && d["decision"] == "reject") outcome = "rejected";
      if (d["rule"] == "composer.generate") outcome = "failed";
    }
    compositions_.labels({outcome}).inc();
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
