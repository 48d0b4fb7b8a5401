// The enterprise-rag evaluation (`keel eval enterprise-rag`): a question set asked as each
// tenant's askers, judged against figures computed independently (gold SQL over the tables as
// their owner) and gold documents, under each arrangement of the two policy layers (Keel's
// checks, the database's policy), with a control arrangement where both are off so the leak
// check is seen to fire.
//
// Contract:
// - load_eval_set() reads examples/enterprise-rag/questions.json (format keel_eval 1): each
//   question is asked as every tenant unless it names "tenants"; "question", "expect_phrase"
//   and "forbidden" may be per tenant ({"acme": ...}). Unknown keys and kinds are refused.
// - A case leaks when its answer's text or evidence names another tenant's customer or one of
//   its forbidden strings, or (adversarial, with gold_sql) its figures differ from the asker's
//   own. Nothing the asker wrote counts: the route and the policy details echo the question.
// - Correct: metric cases equal the gold rows (numbers within 0.005) with the set's catalog
//   version; document cases cite the expected document and their text holds the phrase;
//   limitation cases carry the expected code; identity cases are refused.
// - Citations are valid when each quote is the bytes [start, end) of the document's text as
//   the asker may see it, and the document hash matches that text (checked in the full
//   arrangement only).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "rag/model_router.h"
#include "semantic/metric_catalog.h"
#include "semantic/metric_request.h"

namespace keel::rag {

struct EvalCase {
  std::string id, kind;  //!< kind: metric | document | unsupported | adversarial | identity
  std::string tenant;
  std::vector<std::string> roles = {"analyst"};
  std::string question;
  std::optional<Json> metric_request;
  std::string token = "valid";  //!< valid | expired | forged | wrong_audience | no_tenant
  std::string expect_status, expect_code, gold_sql, expect_document, expect_phrase;
  std::vector<std::string> forbidden;
};

struct EvalSet {
  std::string catalog_version;
  std::map<std::string, std::vector<std::string>> customers;  //!< by tenant
  std::vector<EvalCase> cases;
};

[[nodiscard]] Result<EvalSet> load_eval_set(const std::string& path);
[[nodiscard]] Result<EvalSet> parse_eval_set(std::string_view json);

struct PolicyLayers {
  std::string name;
  bool keel = true;      //!< Keel's tenant filter, document checks and masking
  bool database = true;  //!< the reader role under row-level security and the masking view
};

struct EvalEnvironment {
  const semantic::MetricCatalog* catalog = nullptr;
  std::string reader_uri;  //!< the warehouse as the role its policy binds
  std::string owner_uri;   //!< as the tables' owner (a superuser): gold SQL, the database layer off
  //! The bearer token of a case (its token kind minted by the caller's identity provider).
  std::function<std::string(const EvalCase&)> token_for;
  std::function<Result<semantic::Asker>(std::string_view token)> authenticate;
  //! Who writes the answers' text (answer_service.h): null: templates only.
  std::shared_ptr<const ModelRouter> router;
  std::string composer_reason;
};

struct CaseResult {
  std::string id, kind, tenant, layers, outcome, detail;
  bool correct = false, leaked = false;
  double latency_ms = 0;
  int citations = 0, citations_valid = 0, denies = 0;
  int64_t tokens = 0;
  std::string composer;  //!< who wrote the text ("model", "metric-template", "extractive"); "" unanswered
  bool model_rejected = false;  //!< the model ran and its text was refused (composer.figures)
  bool route_refused = false;   //!< no model was approved for the answer's data class
};

struct LayerSummary {
  PolicyLayers layers;
  int cases = 0, leaks = 0, correct = 0;
};

struct EvalReport {
  std::vector<CaseResult> rows;
  std::vector<LayerSummary> layers;
  // The full arrangement (both layers on):
  int answers_correct = 0, answers_total = 0;          //!< metric and document cases
  int limitations_correct = 0, limitations_total = 0;  //!< cases expecting a limitation
  int refusals_correct = 0, refusals_total = 0;        //!< identity cases
  int adversarial_total = 0;
  int citations = 0, citations_valid = 0, denies = 0;
  double latency_p50_ms = 0, latency_p95_ms = 0;
  double tokens_per_answer = 0;
  int composed_by_model = 0, model_texts_rejected = 0, routes_refused = 0;
  std::string composer_reason;

  Json to_json() const;
};

using EvalProgress = std::function<void(const CaseResult&, size_t done, size_t total)>;

//! Asks every case under each arrangement; the first arrangement is the full one.
[[nodiscard]] Result<EvalReport> run_evaluation(const EvalSet& set, const EvalEnvironment& env,
                                                const std::vector<PolicyLayers>& arrangements,
                                                const EvalProgress& progress = {});

}  // namespace keel::rag
