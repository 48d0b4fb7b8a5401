// The answer server in-process on a real PostgreSQL, under concurrency (run under
// ThreadSanitizer by tools/test.sh): eight clients of three tenants at once while the identity
// provider's keys rotate and the catalog changes; every answer is the asker's own, every
// request is answered or refused as it should be, and the metrics count them all.
#include "rag/answer_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "rag/audit_log.h"
#include "rag/token_authenticator.h"
#include "samples/warehouse.h"
#include "support/test_idp.h"
#include "support/test_support.h"

namespace keel::rag {
namespace {

constexpr int64_t kFarFuture = 4'000'000'000;

TEST(AnswerServer, ConcurrentTenantsWhileKeysRotateAndTheCatalogChanges) {
  testing::PostgresServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  ASSERT_TRUE(samples::create_sample_warehouse(pg.uri()).ok());
  ASSERT_TRUE(install_audit_table(pg.uri()).ok());
  const std::string reader = pg.uri("keel_reader");

  testing::TempDir dir;
  testing::TestIdp idp, rotated;
  testing::write_file(dir.file("jwks.json"), idp.jwks());
  const std::string catalog_text = testing::read_file(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
  testing::write_file(dir.file("metrics.yaml"), catalog_text);
  auto tokens = TokenAuthenticator::create(dir.file("jwks.json"), {"", "", 60});
  ASSERT_TRUE(tokens.ok());
  std::shared_ptr<TokenAuthenticator> authenticator = std::move(*tokens);
  auto catalog = CatalogSource::open(dir.file("metrics.yaml"));
  ASSERT_TRUE(catalog.ok());
  std::shared_ptr<CatalogSource> catalogs = *catalog;

  AnswerServerOptions o;
  o.threads = 3;
  o.max_waiting = 64;
  o.authenticate = [authenticator](std::string_view t) { return authenticator->authenticate(t); };
  o.open_service = [catalogs, reader] { return ConnectedAnswerService::open(catalogs, reader); };
  auto server = AnswerServer::create(o);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  std::thread io([&] { (*server)->run(); });
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());

  const std::vector<std::string> tenants = samples::sample_tenants();
  auto claims = [](const std::string& tenant) {
    return Json{{"sub", "analyst-" + tenant}, {"tenant", tenant}, {"roles", {"analyst"}}, {"exp", kFarFuture}};
  };
  std::atomic<int> answered{0}, refused{0}, wrong{0};
  std::atomic<bool> rotated_keys{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      const std::string tenant = tenants[static_cast<size_t>(c) % tenants.size()];
      for (int i = 0; i < 12; ++i) {
        const bool after = rotated_keys.load();
        const std::string token = (after ? rotated : idp).issue(claims(tenant));
        const std::string question = i % 2 ? "What was the revenue in 2026?" : "Who are our key accounts?";
        auto r = testing::http_request(url, "POST", "/v1/answers", dump_json({{"question", question}}),
                                       {"Authorization: Bearer " + token});
        if (r.status == 401) {
          ++refused;  // a token of the old keys after the rotation, or the new before it is read
          continue;
        }
        auto a = parse_json(r.body);
        if (r.status != 200 || !a.ok()) {
          ++wrong;
          continue;
        }
        ++answered;
        const Json& metrics = (*a)["evidence"]["metrics"];
        if (!metrics.empty() && metrics[0]["parameters"][0] != tenant) ++wrong;
        for (const auto& other : tenants)
          for (const auto& customer : samples::sample_customers(other))
            if (other != tenant && r.body.find(customer) != std::string::npos) ++wrong;
      }
    });
  }
  // Meanwhile: the keys rotate and the catalog gets a new version.
  testing::write_file(dir.file("jwks.json.new"), rotated.jwks());
  std::filesystem::rename(dir.file("jwks.json.new"), dir.file("jwks.json"));
  rotated_keys = true;
  std::string next = catalog_text;
  next.replace(next.find("\"2026.12.1\""), 11, "\"2026.12.2\"");
  testing::write_file(dir.file("metrics.yaml.new"), next);
  std::filesystem::rename(dir.file("metrics.yaml.new"), dir.file("metrics.yaml"));
  for (auto& t : clients) t.join();

  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(answered.load() + refused.load(), 8 * 12);
  EXPECT_GT(answered.load(), 0);
  auto last = testing::http_request(url, "POST", "/v1/answers", dump_json({{"question", "What was the revenue in 2026?"}}),
                                    {"Authorization: Bearer " + rotated.issue(claims("acme"))});
  ASSERT_EQ(last.status, 200) << last.body;
  EXPECT_EQ((*parse_json(last.body))["catalog"]["version"], "2026.12.2");
  const std::string metrics = testing::http_request(url, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("keel_e2e_request_seconds_count " + std::to_string(8 * 12 + 1)), std::string::npos) << metrics;
  (*server)->stop();
  io.join();
}

}  // namespace
}  // namespace keel::rag
