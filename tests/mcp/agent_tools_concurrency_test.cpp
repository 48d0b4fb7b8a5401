// The agent's tools over MCP from many worker threads at once, as the transports call them:
// tools/list runs beside tools/call, and calls with one idempotency key act once however many
// arrive together (calls are serialized: the journal and system of record are single-threaded).
// Run under ThreadSanitizer, this also proves the two paths share no unguarded state.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "agent/agent_deployment.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "mcp/agent_tools.h"
#include "samples/order_system.h"
#include "samples/samples.h"
#include "support/test_support.h"

namespace keel::mcp {
namespace {

// The sample order system behind a deployment (the example's system of record).
samples::OrderSystem* orders(agent::AgentDeployment& d) {
  return dynamic_cast<samples::OrderSystem*>(d.system_of_record());
}

TEST(AgentToolsConcurrency, CallsWithOneKeyFromManyThreadsActOnce) {
  auto spec = contract::load_spec(testing::source_dir() + "/examples/durable-agent.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  testing::TempDir dir;
  agent::AgentDeploymentOptions o;
  o.catalog = &samples::sample_catalog();
  o.state_dir = dir.path();
  o.runner.worker_id = "mcp-concurrency-test";
  auto deployment = agent::AgentDeployment::open(*spec, o);
  ASSERT_TRUE(deployment.ok()) << deployment.status().to_string();
  AgentTools tools(**deployment, *spec);

  constexpr int kCallers = 4, kListers = 2, kKeys = 5;
  std::vector<std::thread> threads;
  for (int t = 0; t < kCallers; ++t) {
    threads.emplace_back([&tools] {
      for (int i = 0; i < kKeys; ++i) {
        Json args = {{"case_id", "CASE-1"},
                     {"text", "note " + std::to_string(i)},
                     {"idempotency_key", "shared-key-" + std::to_string(i)}};
        auto r = tools.call("agent", "add_case_note", args);
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        EXPECT_EQ(r->result["structuredContent"]["status"], "done") << r->result.dump();
      }
    });
  }
  for (int t = 0; t < kListers; ++t) {
    threads.emplace_back([&tools] {
      for (int i = 0; i < 20; ++i) EXPECT_FALSE(tools.list("agent").empty());
    });
  }
  for (auto& t : threads) t.join();
  auto ledger = orders(**deployment)->ledger_for_case("CASE-1");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->notes, kKeys) << "a key used by several callers at once must act once";
}

}  // namespace
}  // namespace keel::mcp
