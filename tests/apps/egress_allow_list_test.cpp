// egress: {allow: [...]} held for every connection Keel opens itself: the durable agent's model
// endpoint and an outside MCP server are refused when the allow-list does not name them, and
// reached when it does (the negative control).
#include <gtest/gtest.h>

#include <regex>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }

// examples/durable-agent.yaml with egress replaced and, optionally, the order system behind an
// outside MCP server.
std::string agent_spec(const testing::TempDir& dir, const std::string& egress, const std::string& mcp_url = "") {
  std::string spec = testing::read_file(repo("examples/durable-agent.yaml"));
  spec.replace(spec.find("egress: none"), std::string("egress: none").size(), "egress: " + egress);
  spec.replace(spec.find("../models/"), 10, testing::source_dir() + "/models/");
  if (!mcp_url.empty()) {
    const std::string sqlite = "  - {id: order-system, kind: sqlite, path: durable-agent/orders.db, provider: sample-order-system}";
    spec.replace(spec.find(sqlite), sqlite.size(), "  - {id: order-system, kind: mcp-server, url: \"" + mcp_url + "\"}");
  }
  const std::string path = dir.file("agent-" + std::to_string(std::hash<std::string>()(egress + mcp_url)) + ".yaml");
  testing::write_file(path, spec);
  return path;
}

TEST(EgressAllowList, AModelEndpointOutsideTheListIsRefused) {
  testing::TempDir dir;
  auto spec = agent_spec(dir, "{allow: [models.internal.example]}");
  auto r = testing::run_keel({"agent", "run", spec, "--case", "CASE-1", "--state-dir", dir.file("state"), "--model-url",
                              "http://127.0.0.1:9/v1"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("outside the spec's egress allow-list"), std::string::npos) << r.err;
}

TEST(EgressAllowList, AnOutsideMcpServerIsReachedOnlyWhenListed) {
  testing::TempDir dir;
  testing::BackgroundProcess remote({testing::keel_binary(), "mcp", "serve", "--spec", repo("examples/durable-agent.yaml"),
                                     "--http", "127.0.0.1:0", "--as", "agent", "--state-dir", dir.file("remote")});
  ASSERT_TRUE(remote.wait_for_output("listening on http://")) << remote.output();
  std::smatch m;
  std::string out = remote.output();
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(listening on (http://127\.0\.0\.1:(\d+)/mcp))"))) << out;
  const std::string url = m[1], port = m[2];

  auto refused = testing::run_keel({"agent", "run", agent_spec(dir, "{allow: [models.internal.example]}", url), "--case",
                                    "CASE-1", "--state-dir", dir.file("refused"), "--json"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("allow-list"), std::string::npos) << refused.err;

  auto listed = testing::run_keel({"agent", "run", agent_spec(dir, "{allow: [\"127.0.0.1:" + port + "\"]}", url), "--case",
                                   "CASE-1", "--state-dir", dir.file("listed"), "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.out << listed.err;
  EXPECT_EQ(parse_json(listed.out).value_or(Json())["state"], "completed") << listed.out;
}

}  // namespace
}  // namespace keel
