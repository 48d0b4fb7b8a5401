// The warehouse the metrics are computed in: PostgreSQL, reached as a role that row-level
// security binds (no BYPASSRLS, not the tables' owner), with the asker's tenant set for each
// query's transaction.
//
// Contract:
// - connect() opens a libpq connection; a server that cannot be reached is `unavailable`.
// - run() executes one compiled query in its own read-only transaction, after
//   `set_config('keel.tenant', <tenant>, true)` (a bind parameter, local to the transaction),
//   so the tables' policies (USING tenant_id = current_setting('keel.tenant')) see the tenant.
//   The rows come back as JSON values (numbers as numbers, dates as "YYYY-MM-DD"), at most
//   max_rows of them (`truncated` says more existed). A lost connection is `unavailable` and
//   nothing partial is returned; a column the role may not read is `permission_denied` (the
//   database's own column privileges); any other query error is `internal` (the catalog names something the
//   database does not have) with the server's message.
// - documents() reads the warehouse's documents (tenant_id, doc_id, title, body, roles TEXT[],
//   classification) in the same kind of transaction, with keel.tenant and keel.roles (the
//   asker's roles as a JSON array) set: from the view `documents_readable`, which admits a row
//   by tenant and ACL and masks restricted fields, or (DocumentSource::table, an evaluation
//   with the database's policy switched off, as an owner that row-level security does not bind)
//   from the table `documents`. Every row comes back with its tenant and ACL: the caller checks
//   them again (context/access_policy.h), so either layer alone stops a leak.
// - check_row_security() proves the connection is bound by row-level security before anything
//   is answered: its role is neither a superuser nor BYPASSRLS, and every table named has
//   row-level security enabled (and forced, when the role owns the table). Anything else is
//   failed_precondition naming what to fix; a table that does not exist is not_found.
// - Not thread-safe: one Warehouse per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "semantic/sql_compiler.h"

namespace keel::semantic {

struct MetricRows {
  std::vector<std::string> columns;
  std::vector<std::vector<Json>> rows;
  bool truncated = false;
};

struct WarehouseDocument {
  std::string tenant, id, title, body, classification;
  std::vector<std::string> roles;  //!< who may read it (any one of them)
};

enum class DocumentSource { policy_view, table };

class Warehouse {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Warehouse>> connect(const std::string& conninfo);
  ~Warehouse();

  [[nodiscard]] Result<MetricRows> run(const CompiledQuery& query, const std::string& tenant,
                                       int64_t max_rows = 10000);
  [[nodiscard]] Status check_row_security(const std::vector<std::string>& tables);
  [[nodiscard]] Result<std::vector<WarehouseDocument>> documents(
      const std::string& tenant, const std::vector<std::string>& roles,
      DocumentSource source = DocumentSource::policy_view, int64_t max_documents = 10000);

 private:
  struct Impl;
  explicit Warehouse(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::semantic
