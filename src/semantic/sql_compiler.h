// Compiles a validated metric request to one parameterised SQL query.
//
// Contract:
// - Identifiers (table, columns) come only from the catalog, and are double-quoted; every value
//   (the tenant, the range, filter values) is a bind parameter ($1, $2, ...), never SQL text.
//   The grain is an enum of the catalog, spelled by Keel.
// - With `tenant_filter` (the default) the query itself keeps to the tenant's rows ($1 is the
//   tenant); the database's row-level security keeps to them too (warehouse.h), so either layer
//   alone stops a leak.
// - Result columns: "period" (with a grain), then one per requested dimension (named as the
//   request named it), then "value". Rows are ordered by the non-value columns; at most
//   max_rows + 1 are fetched, so a caller can tell a result was cut.
// - sql_hash is the SHA-256 of the SQL text: the same request compiles to the same hash.
#pragma once

#include <string>
#include <vector>

#include "semantic/metric_request.h"

namespace keel::semantic {

struct CompiledQuery {
  std::string sql;
  std::vector<std::string> params;   //!< $1, $2, ... in order
  std::vector<std::string> columns;  //!< result column names
  std::string sql_hash;
};

struct CompileOptions {
  bool tenant_filter = true;
  int64_t max_rows = 10000;
};

CompiledQuery compile_metric_query(const ValidatedRequest& request, const std::string& tenant,
                                   const CompileOptions& options = {});

//! "name" with embedded quotes doubled (identifiers from the catalog only).
std::string quote_identifier(const std::string& name);

}  // namespace keel::semantic
