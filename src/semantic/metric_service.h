// Answers typed metric requests for an authenticated asker: validated against the catalog,
// compiled, run under the warehouse's row-level security, and returned with their evidence and
// the policy decisions taken; or a typed limitation. Never a partial answer.
//
// Contract:
// - asker_from_claims() takes the principal, tenant and roles from a verified token's claims
//   (names configurable); a token without a principal or tenant is unauthenticated, a roles
//   claim that is not a list of strings is too.
// - answer() returns JSON:
//     {"status": "answered", "columns": [...], "rows": [[...]], "truncated": bool,
//      "evidence": {"metric", "unit", "catalog_version", "catalog_sha256", "sql_hash",
//                   "row_count", "parameters": [...]},
//      "policy": [{"rule", "decision", "detail"}]}
//   or {"status": "limited", "limitation": {"code", "message", "nearest"}, "policy": [...]}.
//   A warehouse failure is the warehouse's Status (unavailable, permission_denied, internal),
//   with nothing of the answer.
// - Not thread-safe (one warehouse connection): one service per thread.
#pragma once

#include <string>

#include "core/json.h"
#include "core/result.h"
#include "semantic/metric_catalog.h"
#include "semantic/metric_request.h"
#include "semantic/sql_compiler.h"
#include "semantic/warehouse.h"

namespace keel::semantic {

struct ClaimMapping {
  std::string principal = "sub";
  std::string tenant = "tenant";
  std::string roles = "roles";
};

[[nodiscard]] Result<Asker> asker_from_claims(const Json& claims, const ClaimMapping& mapping = {});

class MetricService {
 public:
  //! options.tenant_filter = false leaves the tenant to the warehouse's row-level security
  //! alone (a test of that layer); the policy decisions say so.
  MetricService(const MetricCatalog& catalog, Warehouse& warehouse, CompileOptions options = {})
      : catalog_(catalog), warehouse_(warehouse), options_(options) {}

  [[nodiscard]] Result<Json> answer(const Asker& asker, const Json& request);

 private:
  const MetricCatalog& catalog_;
  Warehouse& warehouse_;
  CompileOptions options_;
};

}  // namespace keel::semantic
