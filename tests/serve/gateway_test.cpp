// The gateway: key file parsing, authentication, model permissions, token buckets and
// concurrency limits. Time is a ManualClock: buckets refill when the test advances it.
#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/hash.h"
#include "serve/gateway.h"
#include "support/test_support.h"

namespace keel::serve {
namespace {

using keel::testing::TempDir;
using keel::testing::write_file;

std::unique_ptr<Gateway> load(const TempDir& dir, const std::string& yaml,
                              const Clock& clock = system_clock()) {
  write_file(dir.file("keys.yaml"), yaml);
  auto g = Gateway::from_key_file(dir.file("keys.yaml"), clock);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  return g.ok() ? std::move(*g) : nullptr;
}

TEST(Gateway, OpenAccessIsAnonymousAndUnlimited) {
  auto g = Gateway::open_access();
  EXPECT_TRUE(g->open());
  EXPECT_EQ(g->authenticate(std::nullopt).value_or(""), "anonymous");
  EXPECT_TRUE(g->allows("anonymous", "anything"));
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(g->acquire("anonymous", 100000).admitted);
}

TEST(Gateway, AuthenticatesHashedKeysOnly) {
  TempDir dir;
  auto g = load(dir, "tenants:\n  - id: search\n    keys_sha256: [" + sha256_hex("secret-1") + "]\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->authenticate(std::string_view("Bearer secret-1")).value_or(""), "search");
  const std::string bearer_of_the_hash = "Bearer " + sha256_hex("secret-1");  // outlives the views below
  for (auto bad : {std::optional<std::string_view>(), std::optional<std::string_view>("Bearer secret-2"),
                   std::optional<std::string_view>("secret-1"), std::optional<std::string_view>("Basic c2VjcmV0LTE="),
                   std::optional<std::string_view>(bearer_of_the_hash)}) {
    auto r = g->authenticate(bad);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::unauthenticated);
  }
}

TEST(Gateway, KeyFileErrorsAreClear) {
  TempDir dir;
  struct Case {
    std::string yaml, fragment;
  };
  for (const auto& c : std::vector<Case>{
           {"tenants: 3\n", "tenants: expected a list, got '3' (line 1)"},
           {"tenants:\n  - id: a\n    keys_sha256: [plaintext-key]\n",
            "tenants[0].keys_sha256[0]: expected 64 hex digits"},
           {"tenants:\n  - id: a\n    requests_per_minut: 5\n",
            "tenants[0].requests_per_minut: unknown key; did you mean 'requests_per_minute'?"},
           {"tenants:\n  - id: a\n    max_concurrent: -1\n", "tenants[0].max_concurrent: must be at least 0"},
           {"tenants:\n  - keys_sha256: []\n", "tenants[0].id: required key is missing"},
           {"tenant:\n  - id: a\n", "tenants: required key is missing"},
           {"tenants: [\n", "line"},
       }) {
    write_file(dir.file("k.yaml"), c.yaml);
    auto g = Gateway::from_key_file(dir.file("k.yaml"));
    ASSERT_FALSE(g.ok()) << c.yaml;
    EXPECT_NE(g.status().message().find(c.fragment), std::string::npos) << g.status().message();
  }
  EXPECT_EQ(Gateway::from_key_file(dir.file("missing.yaml")).status().code(), StatusCode::not_found);
}

TEST(Gateway, ModelsRestrictWhatATenantMayUse) {
  TempDir dir;
  auto g = load(dir, "tenants:\n  - id: a\n    models: [small]\n  - id: b\n");
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->allows("a", "small"));
  EXPECT_FALSE(g->allows("a", "large"));
  EXPECT_TRUE(g->allows("b", "large"));
  EXPECT_FALSE(g->allows("nobody", "small"));
}

TEST(Gateway, RequestBucketRefusesPastTheRateWithARetryAfter) {
  TempDir dir;
  ManualClock clock;
  auto g = load(dir, "tenants:\n  - id: a\n    requests_per_minute: 60\n", clock);
  ASSERT_TRUE(g);
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(g->acquire("a", 1).admitted) << i;
    g->release("a", 0);
  }
  auto d = g->acquire("a", 1);
  EXPECT_FALSE(d.admitted);
  EXPECT_DOUBLE_EQ(d.retry_after_s, 1.0);  // one request per second refills
  EXPECT_NE(d.message.find("60 requests per minute"), std::string::npos);
  // Half a second later half a request has refilled: the wait is half as long.
  clock.advance_ns(500'000'000);
  d = g->acquire("a", 1);
  EXPECT_FALSE(d.admitted);
  EXPECT_DOUBLE_EQ(d.retry_after_s, 0.5);
}

TEST(Gateway, BucketsRefillWithTimeUpToTheirCapacity) {
  TempDir dir;
  ManualClock clock;
  auto g = load(
      dir, "tenants:\n  - id: a\n    requests_per_minute: 60\n    tokens_per_minute: 600\n", clock);
  ASSERT_TRUE(g);
  ASSERT_TRUE(g->acquire("a", 600).admitted);  // the whole token bucket
  g->release("a", 0);
  auto empty = g->acquire("a", 10);
  EXPECT_FALSE(empty.admitted);
  EXPECT_DOUBLE_EQ(empty.retry_after_s, 1.0);  // 10 tokens per second refill
  clock.advance_ns(500'000'000);
  auto half = g->acquire("a", 10);
  EXPECT_FALSE(half.admitted);
  EXPECT_DOUBLE_EQ(half.retry_after_s, 0.5);  // 5 of the 10 tokens are back
  clock.advance_ns(600'000'000);
  ASSERT_TRUE(g->acquire("a", 10).admitted) << "after 1.1 s 11 tokens are back";
  g->release("a", 0);
  // A long idle time refills no more than the capacity: 600 tokens, not 6000.
  clock.advance_ns(600'000'000'000);
  ASSERT_TRUE(g->acquire("a", 600).admitted);
  g->release("a", 0);
  EXPECT_FALSE(g->acquire("a", 1).admitted);
}

TEST(Gateway, TokenBucketChargesAndRefundsUnusedTokens) {
  TempDir dir;
  ManualClock clock;  // no refill between the calls
  auto g = load(dir, "tenants:\n  - id: a\n    tokens_per_minute: 1000\n", clock);
  ASSERT_TRUE(g);
  ASSERT_TRUE(g->acquire("a", 800).admitted);
  EXPECT_FALSE(g->acquire("a", 300).admitted);
  g->release("a", 500);  // the request used 300 of its 800
  EXPECT_TRUE(g->acquire("a", 300).admitted);
  auto never = g->acquire("a", 5000);
  EXPECT_FALSE(never.admitted);
  EXPECT_NE(never.message.find("needs 5000 tokens"), std::string::npos);
}

TEST(Gateway, ConcurrencyLimitHoldsUntilRelease) {
  TempDir dir;
  auto g = load(dir, "tenants:\n  - id: a\n    max_concurrent: 2\n");
  ASSERT_TRUE(g);
  EXPECT_TRUE(g->acquire("a", 1).admitted);
  EXPECT_TRUE(g->acquire("a", 1).admitted);
  EXPECT_FALSE(g->acquire("a", 1).admitted);
  g->release("a", 0);
  EXPECT_TRUE(g->acquire("a", 1).admitted);
}

TEST(Gateway, SpecLimitsApplyToKeyFileTenants) {
  TempDir dir;
  auto g = load(dir, "tenants:\n  - id: a\n    keys_sha256: [" + sha256_hex("k") + "]\n");
  ASSERT_TRUE(g);
  g->set_limits("a", {.max_concurrent = 1});
  EXPECT_TRUE(g->acquire("a", 1).admitted);
  EXPECT_FALSE(g->acquire("a", 1).admitted);
  EXPECT_EQ(g->authenticate(std::string_view("Bearer k")).value_or(""), "a");  // keys kept
}

}  // namespace
}  // namespace keel::serve
