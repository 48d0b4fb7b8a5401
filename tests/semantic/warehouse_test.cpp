// The semantic layer on a real PostgreSQL: metric results equal the same figure computed
// directly, and tenant isolation holds with either layer (the compiled query's tenant filter,
// the database's row-level security) switched off; with both off the leak check does fire.
#include "semantic/warehouse.h"

#include <gtest/gtest.h>

#include <set>

#include "samples/warehouse.h"
#include "support/test_support.h"

namespace keel::semantic {
namespace {

class WarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    Status s = samples::create_sample_warehouse(pg_.uri());
    ASSERT_TRUE(s.ok()) << s.to_string();
    auto c = load_metric_catalog(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    catalog_ = std::move(*c);
  }

  std::string reader_uri() const { return pg_.uri("keel_reader"); }

  ValidatedRequest validated(const std::string& json, const Asker& asker) {
    auto request = parse_metric_request(*parse_json(json));
    EXPECT_TRUE(request.ok());
    auto v = validate_metric_request(catalog_, *request, asker);
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
    return v.ok() ? *v : ValidatedRequest{};
  }

  //! The owner's own answer (a superuser: row-level security does not apply to it).
  std::string direct(const std::string& sql) { return pg_.scalar(sql); }

  //! The customers a result names.
  static std::set<std::string> customers_in(const MetricRows& rows) {
    std::set<std::string> out;
    for (const auto& row : rows.rows) out.insert(row[0].get<std::string>());
    return out;
  }

  testing::PostgresServer pg_;
  MetricCatalog catalog_;
  const Asker acme_{"analyst-acme", "acme", {"analyst"}};
};

TEST_F(WarehouseTest, AMetricEqualsTheSameFigureComputedDirectly) {
  auto w = Warehouse::connect(reader_uri());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto v = validated(R"({"metric": "revenue", "range": {"from": "2026-01-01", "to": "2026-04-01"}})", acme_);
  auto rows = (*w)->run(compile_metric_query(v, "acme"), "acme");
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  ASSERT_EQ(rows->rows.size(), 1u);
  const double expected = std::stod(direct(
      "SELECT SUM(amount) FROM orders WHERE tenant_id = 'acme' AND ordered_at >= '2026-01-01' AND "
      "ordered_at < '2026-04-01'"));
  EXPECT_GT(expected, 0);
  EXPECT_DOUBLE_EQ(rows->rows[0][0].get<double>(), expected);
  // By month and region: one row per (month, region), and the rows add up to the total.
  auto by = validated(R"({"metric": "revenue", "dimensions": ["region"], "grain": "month",
                          "range": {"from": "2026-01-01", "to": "2026-04-01"}})", acme_);
  auto grouped = (*w)->run(compile_metric_query(by, "acme"), "acme");
  ASSERT_TRUE(grouped.ok()) << grouped.status().to_string();
  EXPECT_EQ(grouped->columns, (std::vector<std::string>{"period", "region", "value"}));
  EXPECT_EQ(grouped->rows.size(), 12u);
  double sum = 0;
  for (const auto& row : grouped->rows) sum += row[2].get<double>();
  EXPECT_NEAR(sum, expected, 0.01);
  EXPECT_EQ(grouped->rows[0][0], "2026-01-01");
}

TEST_F(WarehouseTest, EitherPolicyLayerAloneKeepsATenantToItsRows) {
  const auto acme = samples::sample_customers("acme");
  const std::set<std::string> own(acme.begin(), acme.end());
  auto v = validated(R"({"metric": "revenue", "dimensions": ["customer"]})", acme_);
  CompileOptions no_filter;
  no_filter.tenant_filter = false;
  auto reader = Warehouse::connect(reader_uri());
  auto owner = Warehouse::connect(pg_.uri());  // a superuser: row-level security does not bind it
  ASSERT_TRUE(reader.ok() && owner.ok());

  auto both = (*reader)->run(compile_metric_query(v, "acme"), "acme");
  auto rls_only = (*reader)->run(compile_metric_query(v, "acme", no_filter), "acme");
  auto filter_only = (*owner)->run(compile_metric_query(v, "acme"), "acme");
  for (const auto* r : {&both, &rls_only, &filter_only}) {
    ASSERT_TRUE(r->ok()) << r->status().to_string();
    EXPECT_EQ(customers_in(**r), own);
  }
  // Both layers off: the other tenants' customers appear, so the check above can fail.
  auto neither = (*owner)->run(compile_metric_query(v, "acme", no_filter), "acme");
  ASSERT_TRUE(neither.ok());
  EXPECT_EQ(customers_in(*neither).size(), 9u);
  // A tenant the warehouse does not know sees nothing, not everything.
  auto stranger = (*reader)->run(compile_metric_query(v, "umbrella", no_filter), "umbrella");
  ASSERT_TRUE(stranger.ok());
  EXPECT_TRUE(stranger->rows.empty());
}

TEST_F(WarehouseTest, ARestrictedColumnIsRefusedByTheDatabaseToo) {
  // The catalog lets hr ask for salaries; the reader role has no privilege on the column, so
  // even a request the catalog allowed cannot read it through this role.
  auto v = validated(R"({"metric": "average_salary", "dimensions": ["department"]})",
                     {"hr-acme", "acme", {"hr"}});
  auto w = Warehouse::connect(reader_uri());
  ASSERT_TRUE(w.ok());
  auto rows = (*w)->run(compile_metric_query(v, "acme"), "acme");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::permission_denied) << rows.status().to_string();
}

TEST_F(WarehouseTest, AStoppedWarehouseIsUnavailableAndTheNextQueryAfterItsRestartWorks) {
  auto w = Warehouse::connect(reader_uri());
  ASSERT_TRUE(w.ok());
  auto v = validated(R"({"metric": "order_count"})", acme_);
  ASSERT_TRUE((*w)->run(compile_metric_query(v, "acme"), "acme").ok());
  ASSERT_TRUE(pg_.stop());
  auto down = (*w)->run(compile_metric_query(v, "acme"), "acme");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::unavailable) << down.status().to_string();
  ASSERT_TRUE(pg_.start());
  auto up = (*w)->run(compile_metric_query(v, "acme"), "acme");
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  EXPECT_EQ(up->rows[0][0].get<int64_t>(), 365 * 2);
  EXPECT_EQ(Warehouse::connect("postgresql:///x?host=/nonexistent").status().code(),
            StatusCode::unavailable);
}

}  // namespace
}  // namespace keel::semantic
