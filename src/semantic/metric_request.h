// A typed metric request (what a model or a client asks the semantic layer for, as JSON) and
// its validation against the catalog and the asker's roles.
//
// Contract:
// - parse_metric_request() reads {"metric", "dimensions": [...], "filters": [{"dimension",
//   "op": "eq"|"ne"|"in", "value" | "values"}], "grain", "range": {"from", "to"}} with every
//   field's type checked; unknown fields are refused. Dates are "YYYY-MM-DD".
// - validate_metric_request() answers either a ValidatedRequest (every name resolved in the
//   catalog, every filter value of its dimension's type) or a typed Limitation:
//   unsupported_metric, unsupported_dimension, unsupported_filter, unsupported_grain,
//   invalid_request or not_permitted, with a message and the nearest names the asker may use.
//   A limitation is an answer, not a failure: it goes back to the user as it is.
// - Nothing in a request becomes SQL text: values stay values (sql_compiler.h binds them).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "semantic/metric_catalog.h"

namespace keel::semantic {

struct MetricFilter {
  std::string dimension;
  std::string op = "eq";  //!< eq | ne | in
  std::vector<Json> values;
};

struct MetricRequest {
  std::string metric;
  std::vector<std::string> dimensions;
  std::vector<MetricFilter> filters;
  std::optional<std::string> grain;
  std::optional<std::string> from, to;  //!< YYYY-MM-DD; `to` exclusive
};

struct Limitation {
  std::string code;  //!< see the contract
  std::string message;
  std::vector<std::string> nearest;

  Json to_json() const;
};

//! Who asks: the tenant whose rows the answer may read and the roles the catalog checks.
struct Asker {
  std::string principal;
  std::string tenant;
  std::vector<std::string> roles;
};

struct ValidatedRequest {
  const Metric* metric = nullptr;               //!< into the catalog
  const CatalogTable* table = nullptr;          //!< into the catalog
  std::vector<const Dimension*> dimensions;     //!< into the catalog
  struct Filter {
    const Dimension* dimension = nullptr;
    std::string op;
    std::vector<std::string> values;  //!< as text, checked against the dimension's type
  };
  std::vector<Filter> filters;
  std::optional<TimeGrain> grain;
  std::optional<std::string> from, to;
};

[[nodiscard]] Result<MetricRequest, Limitation> parse_metric_request(const Json& request);
[[nodiscard]] Result<ValidatedRequest, Limitation> validate_metric_request(
    const MetricCatalog& catalog, const MetricRequest& request, const Asker& asker);

}  // namespace keel::semantic
