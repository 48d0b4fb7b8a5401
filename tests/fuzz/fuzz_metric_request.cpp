// Fuzz target: typed metric requests (from a model or a client) through parse, validation
// against a catalog and compilation. Whatever the bytes: no crash, and what compiles binds
// every value (the SQL text is the same whatever the values are).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json.h"
#include "semantic/sql_compiler.h"

namespace {

const keel::semantic::MetricCatalog& catalog() {
  static const keel::semantic::MetricCatalog c = [] {
    auto r = keel::semantic::parse_metric_catalog(R"(keel_catalog: 1
version: fuzz
tables:
  orders: {tenant_column: tenant_id}
metrics:
  - name: revenue
    table: orders
    measure: {aggregate: sum, column: amount}
    time_column: ordered_at
    grains: [day, month]
    dimensions:
      - {name: region, type: string}
      - {name: units, type: integer}
      - {name: day, column: ordered_at, type: date}
      - {name: secret, type: string, roles: [hr]}
    filters: [region, units, day, secret]
    roles: [analyst]
)", "fuzz.yaml");
    if (!r.ok()) std::abort();
    return *r;
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = keel::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!j.ok()) return 0;
  auto request = keel::semantic::parse_metric_request(*j);
  if (!request.ok()) return 0;
  auto v = keel::semantic::validate_metric_request(catalog(), *request, {"p", "t", {"analyst"}});
  if (!v.ok()) return 0;
  // The SQL depends on the request's shape only: with every value replaced it is the same text.
  auto q = keel::semantic::compile_metric_query(*v, "t");
  keel::semantic::ValidatedRequest blank = *v;
  for (auto& f : blank.filters)
    for (auto& value : f.values) value = "x";
  if (blank.from) blank.from = "2000-01-01";
  if (blank.to) blank.to = "2000-01-02";
  if (keel::semantic::compile_metric_query(blank, "other").sql != q.sql) std::abort();
  return 0;
}
