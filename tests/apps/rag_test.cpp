// keel rag on a real PostgreSQL, as three tenants with tokens from a test IdP: each analyst gets
// their own tenant's number (equal to the same figure computed directly) with its evidence and
// policy decisions; limitations, bad tokens and a stopped warehouse are answered as such.
#include <gtest/gtest.h>

#include "core/json.h"
#include "support/test_idp.h"
#include "support/test_support.h"

namespace keel {
namespace {

constexpr int64_t kFarFuture = 4'000'000'000;  // seconds: tokens that outlive the test

class RagCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    auto r = testing::run_keel({"rag", "sample-warehouse", "--warehouse", pg_.uri()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    testing::write_file(dir_.file("jwks.json"), idp_.jwks());
  }

  std::string token_file(const std::string& name, const Json& claims, bool rsa = true) {
    testing::write_file(dir_.file(name), idp_.issue(claims, rsa) + "\n");
    return dir_.file(name);
  }
  Json analyst(const std::string& tenant) const {
    return {{"iss", "https://idp.test"}, {"aud", "keel-rag"}, {"sub", "analyst-" + tenant},
            {"tenant", tenant},          {"roles", {"analyst"}}, {"exp", kFarFuture}};
  }
  std::string reader_uri() const { return pg_.uri("keel_reader"); }
  testing::CommandResult query(const std::string& token, const std::string& request) {
    return testing::run_keel({"rag", "query", "--spec", testing::source_dir() + "/examples/enterprise-rag.yaml",
                              "--jwks", dir_.file("jwks.json"), "--issuer", "https://idp.test", "--audience",
                              "keel-rag", "--token", token, "--warehouse", reader_uri(), "--request", request,
                              "--json"});
  }
  double direct(const std::string& sql) {
    const std::string v = pg_.scalar(sql);
    return v.starts_with("ERROR") ? -1 : std::stod(v);
  }

  testing::PostgresServer pg_;
  testing::TempDir dir_;
  testing::TestIdp idp_;
};

TEST_F(RagCommand, EachAnalystGetsTheirTenantsNumberWithItsEvidence) {
  const std::string request = R"({"metric": "revenue", "range": {"from": "2026-01-01", "to": "2026-04-01"}})";
  for (const std::string tenant : {"acme", "globex", "initech"}) {
    auto r = query(token_file(tenant + ".jwt", analyst(tenant), tenant != "globex"), request);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Json a = *parse_json(r.out);
    EXPECT_EQ(a["status"], "answered");
    ASSERT_EQ(a["rows"].size(), 1u);
    const double expected = direct("SELECT SUM(amount) FROM orders WHERE tenant_id = '" + tenant +
                                   "' AND ordered_at >= '2026-01-01' AND ordered_at < '2026-04-01'");
    EXPECT_DOUBLE_EQ(a["rows"][0][0].get<double>(), expected) << tenant;
    EXPECT_EQ(a["evidence"]["metric"], "revenue");
    EXPECT_EQ(a["evidence"]["catalog_version"], "2026.12.1");
    EXPECT_EQ(a["evidence"]["sql_hash"].get<std::string>().size(), 64u);
    EXPECT_EQ(a["evidence"]["parameters"][0], tenant);
    std::vector<std::string> rules;
    for (const auto& d : a["policy"]) rules.push_back(d["rule"].get<std::string>());
    EXPECT_EQ(rules, (std::vector<std::string>{"identity", "catalog.roles", "tenant.row_filter",
                                               "warehouse.row_level_security"}));
  }
}

TEST_F(RagCommand, OutsideTheCatalogOrTheRolesIsATypedLimitation) {
  const std::string acme = token_file("acme.jwt", analyst("acme"));
  auto typo = query(acme, R"({"metric": "revenu"})");
  EXPECT_EQ(typo.exit_code, 4) << typo.err;
  Json t = *parse_json(typo.out);
  EXPECT_EQ(t["limitation"]["code"], "unsupported_metric");
  EXPECT_EQ(t["limitation"]["nearest"][0], "revenue");
  auto salary = query(acme, R"({"metric": "average_salary"})");
  EXPECT_EQ(salary.exit_code, 4);
  Json s = *parse_json(salary.out);
  EXPECT_EQ(s["limitation"]["code"], "not_permitted");
  EXPECT_EQ(s["policy"][1]["decision"], "deny");
  // Another tenant's customer is just a filter value: it matches none of this tenant's rows.
  auto other = query(acme, R"({"metric": "revenue", "filters": [{"dimension": "customer", "value": "Fjord Shipping"}]})");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ((*parse_json(other.out))["rows"][0][0].get<double>(), 0.0);
}

TEST_F(RagCommand, BadTokensAreRefusedBeforeAnyQuery) {
  Json expired = analyst("acme");
  expired["exp"] = 1'000'000'000;
  Json tenantless = analyst("acme");
  tenantless.erase("tenant");
  std::string forged = idp_.issue(analyst("acme"));
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  testing::write_file(dir_.file("forged.jwt"), forged);
  struct Case {
    std::string token, fragment;
  };
  for (const auto& c : std::vector<Case>{{token_file("expired.jwt", expired), "expired"},
                                         {token_file("tenantless.jwt", tenantless), "names no tenant"},
                                         {dir_.file("forged.jwt"), "signature does not verify"}}) {
    auto r = query(c.token, R"({"metric": "revenue"})");
    EXPECT_EQ(r.exit_code, 1) << c.token;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(c.fragment), std::string::npos) << r.err;
  }
}

TEST_F(RagCommand, AWarehouseOutsideTheEgressAllowListIsNeverContacted) {
  auto r = testing::run_keel({"rag", "query", "--spec", testing::source_dir() + "/examples/enterprise-rag.yaml",
                              "--jwks", dir_.file("jwks.json"), "--issuer", "https://idp.test", "--audience", "keel-rag",
                              "--token", token_file("acme.jwt", analyst("acme")),
                              "--warehouse", "postgresql://db.elsewhere.example:5432/warehouse",
                              "--request", R"({"metric": "revenue"})"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("db.elsewhere.example is not in deployment.egress.allow"), std::string::npos) << r.err;
}

TEST_F(RagCommand, AStoppedWarehouseIsAnErrorWithNoPartialAnswer) {
  const std::string acme = token_file("acme.jwt", analyst("acme"));
  ASSERT_TRUE(pg_.stop());
  auto r = query(acme, R"({"metric": "revenue"})");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("cannot connect to the warehouse"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keel
