// The enterprise-rag answer: a question (or a typed metric request) from an authenticated asker,
// answered from governed metrics or from the policy documents the asker may read, with its
// evidence, typed limitations and every policy decision, all written to the audit table before
// the answer is returned.
//
// Contract:
// - answer() returns JSON:
//     {"answer_id", "status": "answered" | "limited" | "declined", "text",
//      "evidence": {"metrics": [...metric evidence, with "columns" and "rows"],
//                   "passages": [...document_search.h evidence]},
//      "limitations": [{"code", "message", "nearest"}], "policy": [{"rule", "decision", "detail"}],
//      "route": {"source": "metric" | "documents", "composer": "model" | "metric-template" |
//                "extractive", "model": {"id", "sha256", "file"} | null, "data_class",
//                "composer_reason", "request", ["rejected_text"]},
//      "catalog": {"version", "sha256"}, "cost": {"prompt_tokens", "completion_tokens"},
//      "latency_ms"}
// - A typed request goes to the semantic layer as it is; a question is read for a metric request
//   (question_reader.h), else answered from the documents; a question asking for a number that
//   neither answers is a typed limitation (unsupported_metric, with the metrics the asker may
//   query), any other unanswered question is declined.
// - The text of an answered question is first composed from its evidence by template (the
//   metric's rows; the quoted sentences). With a router (model_router.h), the model approved for
//   the answer's data class then writes it from that text, and its text replaces the template's
//   only when every figure it states is in the evidence (answer_composer.h); a refused route, a
//   failed generation or a rejected text keeps the template's, with the decision in "policy"
//   (router.data_class, composer.figures) and the model's tokens in "cost" whenever it ran.
//   Limitations and declines are never composed.
// - A warehouse or audit failure is returned as that Status with nothing of the answer (the
//   caller maps it to an error): no partial answer, no answer without its audit rows.
// - Not thread-safe (its connections): one service per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/json.h"
#include "core/result.h"
#include "rag/audit_log.h"
#include "rag/catalog_source.h"
#include "rag/document_search.h"
#include "rag/model_router.h"
#include "semantic/metric_catalog.h"
#include "semantic/metric_request.h"
#include "semantic/sql_compiler.h"
#include "semantic/warehouse.h"

namespace keel::rag {

struct AnswerRequest {
  std::string question;
  std::optional<Json> metric_request;  //!< a typed request, answered as given
};

struct AnswerServiceOptions {
  DocumentSearchOptions documents;
  semantic::CompileOptions metrics;  //!< tenant_filter = false: the warehouse's policy alone (tests)
  //! table: the documents as an owner reads them (the database's policy off, an evaluation)
  semantic::DocumentSource document_source = semantic::DocumentSource::policy_view;
  //! open() refuses a warehouse whose role row-level security does not bind (false: an
  //! evaluation with the database's policy switched off on purpose)
  bool require_row_security = true;
  //! Who may write an answer's text: null: its templates alone (composer_reason says why).
  std::shared_ptr<const ModelRouter> router;
  std::string composer_reason = "no model composes answers";
};

class AnswerService {
 public:
  //! Each answer uses the catalog's current version (catalog_source.h) throughout. `audit` may
  //! be null only where no audit table exists.
  AnswerService(std::shared_ptr<CatalogSource> catalog, semantic::Warehouse& warehouse, AuditLog* audit,
                AnswerServiceOptions options = {})
      : catalog_(std::move(catalog)), warehouse_(warehouse), audit_(audit), options_(options) {}

  [[nodiscard]] Result<Json> answer(const semantic::Asker& asker, const AnswerRequest& request);

  //! Writes a refused request (no or a bad token) to the audit table.
  [[nodiscard]] Status audit_refusal(const std::string& reason, const std::string& question);

 private:
  Result<Json> answer_metric(const semantic::MetricCatalog& catalog, const semantic::Asker& asker,
                             const Json& request, Json* out);
  //! The model's text in place of the template's, when the route and the figures allow it.
  void compose_with_model(const semantic::MetricCatalog& catalog, const std::string& question, Json* out);
  Result<Json> answer_documents(const semantic::MetricCatalog& catalog, const semantic::Asker& asker,
                                const std::string& question, Json* out);

  std::shared_ptr<CatalogSource> catalog_;
  semantic::Warehouse& warehouse_;
  AuditLog* audit_;
  AnswerServiceOptions options_;
};

//! An AnswerService with the connections it owns (the warehouse as its reader role, the audit
//! table): what one worker thread of a server holds. open() checks the warehouse's row
//! security over the catalog's tables first (Warehouse::check_row_security).
struct ConnectedAnswerService {
  std::unique_ptr<semantic::Warehouse> warehouse;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<AnswerService> service;

  [[nodiscard]] static Result<std::unique_ptr<ConnectedAnswerService>> open(
      std::shared_ptr<CatalogSource> catalog, const std::string& warehouse_conninfo,
      AnswerServiceOptions options = {});
};

//! The answer's one-line-per-row text for a metric result: "revenue (EUR), 2026-01-01 to
//! 2026-04-01: 123456.78", or a line per group.
std::string metric_answer_text(const Json& metric_answer, const Json& request);

}  // namespace keel::rag
