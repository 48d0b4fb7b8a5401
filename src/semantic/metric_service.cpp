#include "semantic/metric_service.h"

#include <fmt/format.h>

#include "semantic/sql_compiler.h"

namespace keel::semantic {
namespace {

Json decision(std::string rule, std::string verdict, std::string detail) {
  return {{"rule", std::move(rule)}, {"decision", std::move(verdict)}, {"detail", std::move(detail)}};
}

Json limited(const Limitation& l, Json policy) {
  return {{"status", "limited"}, {"limitation", l.to_json()}, {"policy", std::move(policy)}};
}

Json evidence_of(const MetricCatalog& catalog, const ValidatedRequest& v, const CompiledQuery& q,
                 size_t rows) {
  return {{"metric", v.metric->name},
          {"unit", v.metric->unit},
          {"catalog_version", catalog.version},
          {"catalog_sha256", catalog.sha256},
          {"sql_hash", q.sql_hash},
          {"row_count", rows},
          {"parameters", q.params}};
}

}  // namespace

Result<Asker> asker_from_claims(const Json& claims, const ClaimMapping& mapping) {
  auto text = [&](const std::string& name) {
    auto it = claims.find(name);
    return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Asker asker{text(mapping.principal), text(mapping.tenant), {}};
  if (asker.principal.empty())
    return Status::unauthenticated(fmt::format("the token names no principal ('{}')", mapping.principal));
  if (asker.tenant.empty())
    return Status::unauthenticated(fmt::format("the token names no tenant ('{}')", mapping.tenant));
  if (auto roles = claims.find(mapping.roles); roles != claims.end()) {
    if (!roles->is_array())
      return Status::unauthenticated(fmt::format("'{}' must be a list of roles", mapping.roles));
    for (const auto& r : *roles) {
      if (!r.is_string())
        return Status::unauthenticated(fmt::format("'{}' must be a list of roles", mapping.roles));
      asker.roles.push_back(r.get<std::string>());
    }
  }
  return asker;
}

Result<Json> MetricService::answer(const Asker& asker, const Json& request) {
  Json policy = Json::array();
  policy.push_back(decision("identity", "allow",
                            fmt::format("principal {} of tenant {}", asker.principal, asker.tenant)));
  auto parsed = parse_metric_request(request);
  if (!parsed.ok()) return limited(parsed.error(), std::move(policy));
  auto v = validate_metric_request(catalog_, *parsed, asker);
  if (!v.ok()) {
    if (v.error().code == "not_permitted")
      policy.push_back(decision("catalog.roles", "deny", v.error().message));
    return limited(v.error(), std::move(policy));
  }
  policy.push_back(decision("catalog.roles", "allow",
                            fmt::format("metric {} (catalog {})", v->metric->name, catalog_.version)));
  const CompiledQuery q = compile_metric_query(*v, asker.tenant, options_);
  policy.push_back(options_.tenant_filter
                       ? decision("tenant.row_filter", "applied",
                                  fmt::format("{} = the asker's tenant", v->table->tenant_column))
                       : decision("tenant.row_filter", "skipped", "left to the warehouse's policy"));
  policy.push_back(decision("warehouse.row_level_security", "applied",
                            "keel.tenant set for the query's transaction"));
  KEEL_ASSIGN_OR_RETURN(MetricRows rows, warehouse_.run(q, asker.tenant, options_.max_rows));
  Json out = {{"status", "answered"},
              {"columns", rows.columns},
              {"rows", Json::array()},
              {"truncated", rows.truncated},
              {"evidence", evidence_of(catalog_, *v, q, rows.rows.size())},
              {"policy", std::move(policy)}};
  for (auto& row : rows.rows) out["rows"].push_back(std::move(row));
  return out;
}

}  // namespace keel::semantic
