// The SQL compiler: identifiers from the catalog only, every value bound, the same request the
// same SQL (and hash).
#include "semantic/sql_compiler.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel::semantic {
namespace {

TEST(SqlCompiler, ValuesAreBoundNeverWrittenIntoTheSql) {
  auto catalog = load_metric_catalog(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
  ASSERT_TRUE(catalog.ok());
  const std::string hostile = "x'); DROP TABLE orders; --";
  auto j = parse_json(R"({"metric": "revenue", "dimensions": ["region"], "grain": "quarter",
                          "filters": [{"dimension": "customer", "value": "x'); DROP TABLE orders; --"}],
                          "range": {"from": "2026-01-01", "to": "2027-01-01"}})");
  auto request = parse_metric_request(*j);
  ASSERT_TRUE(request.ok());
  auto v = validate_metric_request(*catalog, *request, {"a", "acme", {"analyst"}});
  ASSERT_TRUE(v.ok()) << v.error().message;
  CompiledQuery q = compile_metric_query(*v, "acme");
  EXPECT_EQ(q.sql,
            "SELECT date_trunc('quarter', \"ordered_at\")::date AS \"period\", \"region\" AS \"region\", "
            "COALESCE(SUM(\"amount\"), 0) AS \"value\" FROM \"orders\" WHERE \"tenant_id\" = $1 AND "
            "\"ordered_at\" >= $2::date AND \"ordered_at\" < $3::date AND \"customer_name\" = $4 "
            "GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 10001");
  EXPECT_EQ(q.params, (std::vector<std::string>{"acme", "2026-01-01", "2027-01-01", hostile}));
  EXPECT_EQ(q.sql.find("DROP"), std::string::npos);
  EXPECT_EQ(q.columns, (std::vector<std::string>{"period", "region", "value"}));
  EXPECT_EQ(q.sql_hash, compile_metric_query(*v, "globex").sql_hash) << "the tenant is a parameter";
  CompileOptions no_filter;
  no_filter.tenant_filter = false;
  CompiledQuery unfiltered = compile_metric_query(*v, "acme", no_filter);
  EXPECT_EQ(unfiltered.sql.find("tenant_id"), std::string::npos);
  EXPECT_EQ(unfiltered.params.size(), 3u);
}

TEST(SqlCompiler, IdentifiersAreQuoted) {
  EXPECT_EQ(quote_identifier("amount"), "\"amount\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

}  // namespace
}  // namespace keel::semantic
