// Typed metric requests: what parses, and every way a request falls outside the catalog or the
// asker's roles comes back as a typed limitation with the names that would work.
#include "semantic/metric_request.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel::semantic {
namespace {

const MetricCatalog& catalog() {
  static const MetricCatalog c = [] {
    auto r = load_metric_catalog(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : MetricCatalog{};
  }();
  return c;
}

const Asker kAnalyst{"analyst-acme", "acme", {"analyst"}};

Result<ValidatedRequest, Limitation> check(const std::string& json, const Asker& asker = kAnalyst) {
  auto j = parse_json(json);
  EXPECT_TRUE(j.ok()) << json;
  auto request = parse_metric_request(*j);
  if (!request.ok()) return std::move(request).error();
  return validate_metric_request(catalog(), *request, asker);
}

TEST(MetricRequest, AValidRequestResolvesEveryName) {
  auto v = check(R"({"metric": "revenue", "dimensions": ["region"], "grain": "month",
                     "filters": [{"dimension": "product", "op": "in", "values": ["widget", "gizmo"]}],
                     "range": {"from": "2026-01-01", "to": "2026-04-01"}})");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->metric->name, "revenue");
  ASSERT_EQ(v->dimensions.size(), 1u);
  EXPECT_EQ(v->dimensions[0]->column, "region");
  ASSERT_EQ(v->filters.size(), 1u);
  EXPECT_EQ(v->filters[0].values, (std::vector<std::string>{"widget", "gizmo"}));
  EXPECT_EQ(v->grain, TimeGrain::month);
  EXPECT_EQ(*v->from, "2026-01-01");
}

TEST(MetricRequest, OutsideTheCatalogIsATypedLimitationWithTheNearestNames) {
  struct Case {
    std::string json, code, fragment, nearest;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"metric": "revenu"})", "unsupported_metric", "no metric 'revenu'", "revenue"},
           {R"({"metric": "revenue", "dimensions": ["regoin"]})", "unsupported_dimension",
            "no dimension 'regoin'", "region"},
           {R"({"metric": "order_count", "filters": [{"dimension": "customer", "value": "x"}]})",
            "unsupported_filter", "cannot be filtered by 'customer'", "region"},
           {R"({"metric": "revenue", "grain": "hour"})", "unsupported_grain", "no time grain 'hour'",
            "day"},
           {R"({"metric": "average_salary"})", "not_permitted", "restricted", "revenue"},
           {R"({"metric": "revenue", "sql": "SELECT 1"})", "invalid_request", "unknown field 'sql'", ""},
           {R"({"metric": "revenue", "filters": [{"dimension": "region", "value": 7}]})",
            "invalid_request", "takes string values", ""},
           {R"({"metric": "revenue", "filters": [{"dimension": "region", "op": "like", "value": "%"}]})",
            "invalid_request", "op must be eq, ne or in", ""},
           {R"({"metric": "revenue", "range": {"from": "2026-02-30", "to": "2026-03-01"}})",
            "invalid_request", "range.from must be a date", ""},
           {R"({"metric": "revenue", "range": {"from": "2026-03-01", "to": "2026-03-01"}})",
            "invalid_request", "before range.to", ""},
           {R"({"metric": 5})", "invalid_request", "'metric' must be a string", ""},
           {R"({"dimensions": []})", "invalid_request", "'metric' is required", ""},
       }) {
    auto v = check(c.json);
    ASSERT_FALSE(v.ok()) << c.json;
    EXPECT_EQ(v.error().code, c.code) << c.json << ": " << v.error().message;
    EXPECT_NE(v.error().message.find(c.fragment), std::string::npos) << v.error().message;
    if (!c.nearest.empty()) {
      ASSERT_FALSE(v.error().nearest.empty()) << c.json;
      EXPECT_EQ(v.error().nearest[0], c.nearest) << c.json;
    }
  }
}

TEST(MetricRequest, RolesDecideMetricsAndTheNearestNamesOfferOnlyPermittedOnes) {
  const Asker hr{"hr-acme", "acme", {"hr"}};
  EXPECT_TRUE(check(R"({"metric": "average_salary", "dimensions": ["department"]})", hr).ok());
  auto v = check(R"({"metric": "revenue"})", hr);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, "not_permitted");
  EXPECT_EQ(v.error().nearest, std::vector<std::string>{"average_salary"});
  // A metric that exists but is not permitted is never offered as "nearest".
  auto typo = check(R"({"metric": "average_salar"})");
  ASSERT_FALSE(typo.ok());
  for (const auto& n : typo.error().nearest) EXPECT_NE(n, "average_salary");
  const Asker nobody{"guest", "acme", {}};
  EXPECT_EQ(check(R"({"metric": "revenue"})", nobody).error().code, "not_permitted");
}

}  // namespace
}  // namespace keel::semantic
