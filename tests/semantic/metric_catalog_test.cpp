// The metric catalog: the example's catalog loads, and every kind of mistake in a catalog is an
// error naming its key and line.
#include "semantic/metric_catalog.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel::semantic {
namespace {

TEST(MetricCatalog, TheExampleCatalogLoads) {
  auto c = load_metric_catalog(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->version, "2026.12.1");
  EXPECT_EQ(c->sha256.size(), 64u);
  const Metric* revenue = c->metric("revenue");
  ASSERT_NE(revenue, nullptr);
  EXPECT_EQ(revenue->aggregate, Aggregate::sum);
  EXPECT_EQ(revenue->measure_column, "amount");
  ASSERT_NE(revenue->dimension("customer"), nullptr);
  EXPECT_EQ(revenue->dimension("customer")->column, "customer_name");
  EXPECT_EQ(c->table("orders")->tenant_column, "tenant_id");
  EXPECT_EQ(c->metric("average_salary")->roles, std::vector<std::string>{"hr"});
}

TEST(MetricCatalog, MistakesAreErrorsWithTheirKeyAndLine) {
  const std::string head = "keel_catalog: 1\nversion: v1\ntables:\n  orders: {tenant_column: tenant_id}\n";
  const std::string metric =
      "metrics:\n  - name: revenue\n    table: orders\n    measure: {aggregate: sum, column: amount}\n"
      "    time_column: at\n    grains: [month]\n    roles: [analyst]\n";
  struct Case {
    std::string yaml, fragment;
  };
  for (const auto& c : std::vector<Case>{
           {head + metric + "    colour: red\n", "metrics[0].colour: unknown key"},
           {head + "metrics:\n  - name: revenue\n    table: sales\n    measure: {aggregate: count}\n"
                   "    time_column: at\n    grains: [month]\n    roles: [a]\n",
            "table 'sales' is not declared under tables"},
           {head + metric + "    filters: [region]\n", "'region' is not a dimension of this metric"},
           {head + metric + "  - name: revenue\n    table: orders\n    measure: {aggregate: count}\n"
                            "    time_column: at\n    grains: [day]\n    roles: [a]\n",
            "duplicate metric 'revenue'"},
           {head + metric + "    dimensions: [{name: \"region; DROP TABLE orders\"}]\n",
            "expected a plain SQL name"},
           {head + "metrics:\n  - name: revenue\n    table: orders\n    measure: {aggregate: median}\n"
                   "    time_column: at\n    grains: [month]\n    roles: [a]\n",
            "expected one of sum, count"},
           {head + "metrics:\n  - name: revenue\n    table: orders\n    measure: {aggregate: sum}\n"
                   "    time_column: at\n    grains: [month]\n    roles: [a]\n",
            "measure.column: required unless the aggregate is count"},
           {"keel_catalog: 2\nversion: v\ntables: {}\nmetrics: []\n", "catalog format 1"},
           {"version: v1\nmetrics: [\n", "YAML syntax error"},
       }) {
    auto r = parse_metric_catalog(c.yaml, "catalog.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("catalog.yaml"), std::string::npos);
  }
  EXPECT_EQ(load_metric_catalog("/nonexistent/catalog.yaml").status().code(), StatusCode::not_found);
}

}  // namespace
}  // namespace keel::semantic
