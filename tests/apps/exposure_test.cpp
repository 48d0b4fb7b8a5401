// Check K018 at start-up, end to end: `keel mcp serve --http` and `keel serve` refuse to listen
// beyond loopback over confidential data that the spec keeps on this machine (egress: none),
// whatever `keel plan` could see, unless the spec says deployment.remote_readers: allowed.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) {
  return testing::source_dir() + "/" + rel;
}

// A refusal is immediate; without it the server would listen until killed, so a short limit.
testing::CommandResult keel_refusing(std::vector<std::string> args) {
  args.insert(args.begin(), testing::keel_binary());
  return testing::run_command(args, "", {}, 30);
}

// The example spec with `deployment:` extended by `extra` and model paths made absolute, in `dir`.
std::string example_copy(const testing::TempDir& dir, const std::string& example,
                         const std::string& extra) {
  std::string spec = testing::read_file(repo("examples/" + example));
  size_t at = spec.find("  remote_fallback: disabled\n");
  EXPECT_NE(at, std::string::npos) << example;
  spec.insert(at, extra);
  for (size_t m = spec.find("../models/"); m != std::string::npos; m = spec.find("../models/")) {
    spec.replace(m, 10, testing::source_dir() + "/models/");
  }
  for (size_t d = spec.find("path: local-research/"); d != std::string::npos;
       d = spec.find("path: local-research/")) {
    spec.replace(d, 6, "path: " + testing::source_dir() + "/examples/");
  }
  const std::string path = dir.file(example);
  testing::write_file(path, spec);
  return path;
}

TEST(DataExposure, McpOverTheNetworkIsRefusedForPrivateDataUnlessTheSpecAllowsRemoteReaders) {
  testing::TempDir dir;
  const std::string store = dir.file("store.db");
  ASSERT_EQ(testing::run_keel(
                {"index", "--docs", repo("examples/local-research/docs"), "--store", store, "-q"})
                .exit_code,
            0);
  testing::write_file(dir.file("tokens.yaml"), "principals:\n  - {id: agent, tokens_sha256: [" +
                                                   std::string(64, 'a') + "]}\n");
  std::filesystem::create_directories(dir.file("state"));
  for (const char* example : {"local-research.yaml", "durable-agent.yaml"}) {
    SCOPED_TRACE(example);
    // `keel plan` accepts the example: nothing in it listens.
    ASSERT_EQ(testing::run_keel({"plan", repo(std::string("examples/") + example)}).exit_code, 0);
    for (const char* address : {"0.0.0.0:0", "[::]:0"}) {
      auto r = keel_refusing({"mcp", "serve", "--spec", repo(std::string("examples/") + example),
                              "--store", store, "--state-dir", dir.file("state"), "--http", address,
                              "--tokens", dir.file("tokens.yaml")});
      EXPECT_EQ(r.exit_code, 2) << address << ": " << r.err;
      EXPECT_NE(r.err.find("K018"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("deployment.remote_readers: allowed"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("listening on"), std::string::npos)
          << "it must refuse before listening: " << r.err;
    }
  }
  // Allowed by the spec: the server starts beyond loopback (with tokens, as the transport asks).
  const std::string allowed =
      example_copy(dir, "local-research.yaml", "  remote_readers: allowed\n");
  ASSERT_EQ(testing::run_keel({"plan", allowed}).exit_code, 0);
  testing::BackgroundProcess server({testing::keel_binary(), "mcp", "serve", "--spec", allowed,
                                     "--store", store, "--http", "0.0.0.0:0", "--tokens",
                                     dir.file("tokens.yaml")});
  EXPECT_TRUE(server.wait_for_output("/mcp")) << server.output();
  EXPECT_NE(server.output().find("listening on http://0.0.0.0:"), std::string::npos)
      << server.output();
}

TEST(DataExposure, KeelServeRefusesANetworkHostOverPrivateData) {
  testing::TempDir dir;
  // A service over confidential documents that egress: none keeps here; it serves on loopback.
  const std::string spec = dir.file("private-service.yaml");
  testing::write_file(spec, R"(keel: 1
name: private-service
scenario: llm-service
data:
  classes: [confidential]
  sources: [{id: contracts, kind: folder, path: contracts}]
slo: {ttft_ms: {p95: 500}, workload: {rps: 1, concurrency: 2}}
deployment:
  target: cluster
  egress: none
  models: [{id: main, path: )" + repo("models/keel-tiny-chat.gguf") +
                                R"(, role: generate}]
serving: {host: 127.0.0.1, port: 0}
failure: {inject: [overload]}
)");
  auto plan = testing::run_keel({"plan", spec});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  auto refused = keel_refusing({"serve", "--spec", spec, "--host", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("K018"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("0.0.0.0"), std::string::npos) << refused.err;
  // The same address in the spec is refused by `keel plan` already.
  std::string text = testing::read_file(spec);
  text.replace(text.find("host: 127.0.0.1"), 15, "host: 0.0.0.0");
  testing::write_file(spec, text);
  auto planned = testing::run_keel({"plan", spec, "--json"});
  EXPECT_EQ(planned.exit_code, 2) << planned.out;
  EXPECT_NE(planned.out.find("K018"), std::string::npos) << planned.out;
}

}  // namespace
}  // namespace keel
