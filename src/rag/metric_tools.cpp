#include "rag/metric_tools.h"

#include <fmt/format.h>

#include <algorithm>

#include "semantic/metric_service.h"

namespace keel::rag {
namespace {

Json text_result(const std::string& text, Json structured, bool is_error = false) {
  Json r = {{"content", Json::array({{{"type", "text"}, {"text", text}}})}, {"structuredContent", std::move(structured)}};
  if (is_error) r["isError"] = true;
  return r;
}

bool may_query(const semantic::Metric& m, const semantic::Asker& asker) {
  return std::any_of(m.roles.begin(), m.roles.end(), [&](const std::string& r) {
    return std::find(asker.roles.begin(), asker.roles.end(), r) != asker.roles.end();
  });
}

bool may_use(const semantic::Dimension& d, const semantic::Asker& asker) {
  return d.roles.empty() || std::any_of(d.roles.begin(), d.roles.end(), [&](const std::string& r) {
           return std::find(asker.roles.begin(), asker.roles.end(), r) != asker.roles.end();
         });
}

Json describe(const semantic::Metric& m, const semantic::Asker& asker) {
  Json dimensions = Json::array(), filters = Json::array(), grains = Json::array();
  for (const auto& d : m.dimensions)
    if (may_use(d, asker)) dimensions.push_back({{"name", d.name}, {"type", semantic::dimension_type_name(d.type)}});
  for (const auto& f : m.filters)
    if (const auto* d = m.dimension(f); d && may_use(*d, asker)) filters.push_back(f);
  for (auto g : m.grains) grains.push_back(semantic::time_grain_name(g));
  return {{"name", m.name},
          {"description", m.description},
          {"unit", m.unit},
          {"aggregate", semantic::aggregate_name(m.aggregate)},
          {"grains", grains},
          {"dimensions", dimensions},
          {"filters", filters}};
}

const Json& request_schema() {
  static const Json schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "metric": {"type": "string", "description": "a metric list_metrics names"},
      "dimensions": {"type": "array", "items": {"type": "string"}},
      "filters": {"type": "array", "items": {"type": "object", "properties": {
        "dimension": {"type": "string"}, "op": {"enum": ["eq", "ne", "in"]},
        "value": {}, "values": {"type": "array"}}, "required": ["dimension"]}},
      "grain": {"enum": ["day", "week", "month", "quarter", "year"]},
      "range": {"type": "object", "properties": {
        "from": {"type": "string", "description": "YYYY-MM-DD"},
        "to": {"type": "string", "description": "YYYY-MM-DD, exclusive"}}}
    },
    "required": ["metric"]
  })");
  return schema;
}

}  // namespace

std::string principal_of(const semantic::Asker& asker) {
  return dump_json({{"sub", asker.principal}, {"tenant", asker.tenant}, {"roles", asker.roles}});
}

Result<semantic::Asker> asker_of_principal(const std::string& principal) {
  auto j = parse_json(principal);
  if (!j.ok() || !j->is_object()) return Status::unauthenticated("not an authenticated asker");
  return semantic::asker_from_claims(*j);
}

std::vector<nlohmann::json> MetricTools::list(const std::string& principal) {
  if (!asker_of_principal(principal).ok()) return {};
  const Json empty = {{"type", "object"}, {"properties", Json::object()}};
  return {
      {{"name", "list_metrics"},
       {"description", "The governed metrics you may query, with their units, grains, dimensions and filters, "
                       "and the catalog's version."},
       {"inputSchema", empty},
       {"annotations", {{"readOnlyHint", true}}}},
      {{"name", "describe_metric"},
       {"description", "One metric's definition: unit, aggregate, grains, the dimensions you may group and "
                       "filter by."},
       {"inputSchema",
        {{"type", "object"}, {"properties", {{"metric", {{"type", "string"}}}}}, {"required", {"metric"}}}},
       {"annotations", {{"readOnlyHint", true}}}},
      {{"name", "query_metric"},
       {"description", "Answer a typed metric request for your tenant: the figures with their evidence (catalog "
                       "version, SQL hash, parameters), or a typed limitation naming what you may ask instead. "
                       "Never SQL."},
       {"inputSchema", request_schema()},
       {"annotations", {{"readOnlyHint", true}}}},
  };
}

Result<mcp::ToolCallOutcome> MetricTools::call(const std::string& principal, const std::string& name,
                                               const nlohmann::json& arguments) {
  if (name != "list_metrics" && name != "describe_metric" && name != "query_metric")
    return Status::not_found("no tool " + name);
  mcp::ToolCallOutcome out;
  auto asker = asker_of_principal(principal);
  if (!asker.ok()) {
    out.forbidden = true;
    out.forbidden_reason = "the semantic layer's tools need a verified identity token";
    return out;
  }
  const auto catalog = catalog_->current();
  if (name == "list_metrics") {
    Json metrics = Json::array();
    for (const auto& m : catalog->metrics)
      if (may_query(m, *asker)) metrics.push_back(describe(m, *asker));
    Json structured = {{"catalog_version", catalog->version}, {"metrics", metrics}};
    out.result = text_result(dump_json(structured), structured);
    return out;
  }
  if (name == "describe_metric") {
    const std::string metric = arguments.is_object() ? arguments.value("metric", "") : "";
    const semantic::Metric* m = catalog->metric(metric);
    if (!m || !may_query(*m, *asker)) {
      Json structured = {{"catalog_version", catalog->version},
                         {"limitation",
                          {{"code", m ? "not_permitted" : "unsupported_metric"},
                           {"message", fmt::format("no metric '{}' you may query", metric)}}}};
      out.result = text_result(dump_json(structured), structured);
      return out;
    }
    Json structured = describe(*m, *asker);
    structured["catalog_version"] = catalog->version;
    out.result = text_result(dump_json(structured), structured);
    return out;
  }
  ServicePool::Lease lease = services_->lease();
  AnswerRequest request;
  request.metric_request = arguments.is_object() ? arguments : Json::object();
  auto answer = lease.service().answer(*asker, request);
  if (!answer.ok()) {
    out.result = text_result("the metric could not be answered: " + answer.status().to_string(),
                             {{"error", answer.status().to_string()}}, true);
    return out;
  }
  out.result = text_result((*answer)["text"].get<std::string>(), *answer);
  return out;
}

}  // namespace keel::rag
