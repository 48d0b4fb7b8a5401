// `keel mcp serve` with real peers: the official MCP TypeScript SDK over stdio and Streamable
// HTTP (tests/peers/mcp_client.test.mjs), the official conformance suite with its known
// failures, and Keel's own MCP client: an agent whose system of record is reached through an
// outside MCP server (another keel), under its own policy.
#include <gtest/gtest.h>

#include <filesystem>

#include "samples/order_system.h"
#include "core/hash.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }

struct McpFixture {
  testing::TempDir dir;
  std::string store = dir.file("store.db");
  const std::string agent_token = "agent-token-0123456789abcdef";
  const std::string supervisor_token = "supervisor-token-0123456789abcdef";

  McpFixture() {
    std::filesystem::create_directories(dir.file("http-state"));
    std::filesystem::create_directories(dir.file("stdio-state"));
    auto index = testing::run_keel({"index", "--docs", repo("examples/local-research/docs"), "--store", store, "-q"});
    EXPECT_EQ(index.exit_code, 0) << index.err;
    testing::write_file(dir.file("tokens.yaml"), "principals:\n  - {id: agent, tokens_sha256: [" + sha256_hex(agent_token) +
                                                     "]}\n  - {id: supervisor, tokens_sha256: [" + sha256_hex(supervisor_token) + "]}\n");
  }
  std::unique_ptr<testing::BackgroundProcess> serve(std::vector<std::string> extra, const std::string& state) {
    std::vector<std::string> argv = {testing::keel_binary(), "mcp", "serve", "--spec", repo("examples/durable-agent.yaml"), "--spec",
                                     repo("examples/local-research.yaml"), "--store", store, "--http", "127.0.0.1:0",
                                     "--state-dir", state};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = std::make_unique<testing::BackgroundProcess>(argv);
    EXPECT_TRUE(p->wait_for_output("/mcp")) << p->output();
    return p;
  }
  static std::string url_of(testing::BackgroundProcess& p) { return testing::listening_url(p.output()); }  // …/mcp
};

TEST(Mcp, TheOfficialSdkClientWorksOverStdioAndHttp) {
  ASSERT_TRUE(std::filesystem::exists(repo("tests/peers/node_modules/@modelcontextprotocol/sdk")))
      << "npm packages are missing: tools/setup.sh runs npm ci in tests/peers";
  McpFixture f;
  auto server = f.serve({"--tokens", f.dir.file("tokens.yaml")}, f.dir.file("http-state"));
  auto r = testing::run_command({"node", "--test", repo("tests/peers/mcp_client.test.mjs")}, "",
                                {{"KEEL_BIN", testing::keel_binary()},
                                 {"KEEL_REPO", testing::source_dir()},
                                 {"KEEL_STATE_DIR", f.dir.file("stdio-state")},
                                 {"KEEL_STORE", f.store},
                                 {"KEEL_MCP_URL", McpFixture::url_of(*server)},
                                 {"KEEL_MCP_TOKEN_AGENT", f.agent_token},
                                 {"KEEL_MCP_TOKEN_SUPERVISOR", f.supervisor_token},
                                 {"KEEL_HTTP_STATE_DIR", f.dir.file("http-state")}},
                                300);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("# fail 0"), std::string::npos) << r.out;
}

TEST(Mcp, TheConformanceSuiteHasNoNewFailures) {
  McpFixture f;
  auto server = f.serve({"--as", "agent"}, f.dir.file("http-state"));
  auto r = testing::run_command({"bash", repo("tests/peers/mcp_conformance.sh"), McpFixture::url_of(*server)}, "", {}, 400);
  ASSERT_NE(r.exit_code, 2) << "the conformance suite could not run:\n" << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("conformance: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("REGRESSION"), std::string::npos) << r.out;
  size_t at = r.out.rfind("conformance: ");
  if (at != std::string::npos) std::printf("[ mcp ] %s\n", r.out.substr(at, r.out.find('\n', at) - at).c_str());
}

TEST(Mcp, RefusesUnknownPrincipalsAndOpenNetworkServers) {
  McpFixture f;
  auto typo = testing::run_keel({"mcp", "serve", "--spec", repo("examples/durable-agent.yaml"), "--stdio", "--as", "agnet",
                                 "--state-dir", f.dir.file("stdio-state")});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("agnet"), std::string::npos) << typo.err;
  // The example's confidential data may not be served beyond loopback at all (K018; see
  // exposure_test.cpp); with remote readers allowed, the transport still asks for tokens there.
  auto exposed = testing::run_keel({"mcp", "serve", "--spec", repo("examples/durable-agent.yaml"), "--http", "0.0.0.0:0",
                                    "--state-dir", f.dir.file("stdio-state")});
  EXPECT_EQ(exposed.exit_code, 2);
  EXPECT_NE(exposed.err.find("K018"), std::string::npos) << exposed.err;
  std::string spec = testing::read_file(repo("examples/durable-agent.yaml"));
  spec.insert(spec.find("  remote_fallback: disabled\n"), "  remote_readers: allowed\n");
  spec.replace(spec.find("../models/"), 10, testing::source_dir() + "/models/");
  testing::write_file(f.dir.file("remote-readers.yaml"), spec);
  auto open = testing::run_keel({"mcp", "serve", "--spec", f.dir.file("remote-readers.yaml"), "--http", "0.0.0.0:0",
                                 "--state-dir", f.dir.file("stdio-state")});
  EXPECT_EQ(open.exit_code, 1);
  EXPECT_NE(open.err.find("without --tokens"), std::string::npos) << open.err;
}

TEST(Mcp, AnAgentUsesAnOutsideMcpServersToolsUnderItsOwnPolicy) {
  // The order system lives behind another keel's MCP server (over stdio); this deployment
  // declares the same tools and keeps its own policy, approvals and journal.
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("remote"));
  std::filesystem::create_directories(dir.file("local"));
  std::string spec = testing::read_file(repo("examples/durable-agent.yaml"));
  std::string remote = "stdio:" + testing::keel_binary() + " mcp serve --spec " + repo("examples/durable-agent.yaml") +
                       " --stdio --as agent --state-dir " + dir.file("remote");
  size_t at = spec.find("  - {id: order-system, kind: sqlite, path: durable-agent/orders.db, provider: sample-order-system}");
  ASSERT_NE(at, std::string::npos);
  spec.replace(at, std::string("  - {id: order-system, kind: sqlite, path: durable-agent/orders.db, provider: sample-order-system}").size(),
               "  - {id: order-system, kind: mcp-server, url: \"" + remote + "\"}");
  spec.replace(spec.find("../models/"), 10, testing::source_dir() + "/models/");
  testing::write_file(dir.file("agent.yaml"), spec);
  auto plan = testing::run_keel({"plan", dir.file("agent.yaml")});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  auto run = testing::run_keel({"agent", "run", dir.file("agent.yaml"), "--case", "CASE-1", "--state-dir", dir.file("local"), "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto out = parse_json(run.out);
  ASSERT_TRUE(out.ok()) << run.out;
  EXPECT_EQ((*out)["state"], "completed") << run.out;
  EXPECT_EQ((*out)["result"]["decision"], "refunded");
  // The effects happened in the remote system of record, once each.
  auto sor = samples::OrderSystem::open(dir.file("remote") + "/orders.db");
  ASSERT_TRUE(sor.ok());
  auto l = (*sor)->ledger_for_case("CASE-1");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->refunds, 1);
  EXPECT_EQ(l->status_changes, 2);
  EXPECT_EQ(l->notes, 1);
  // Local approvals still apply to remote tools: CASE-2's refund waits for a human here.
  auto waiting = testing::run_keel({"agent", "run", dir.file("agent.yaml"), "--case", "CASE-2", "--state-dir", dir.file("local"), "--json"});
  ASSERT_EQ(waiting.exit_code, 0) << waiting.err;
  EXPECT_EQ(parse_json(waiting.out).value_or(Json())["state"], "waiting_approval") << waiting.out;
  EXPECT_EQ((*sor)->ledger_for_case("CASE-2")->refunds, 0);
}

}  // namespace
}  // namespace keel
