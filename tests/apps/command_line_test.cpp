// The command line a newcomer meets: unknown commands, missing files, the hints Keel prints
// (they must work from any folder), defaults in --help, and the flags each verb suggests.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

// `keel ARGS...` run from `folder` (the hints must not assume the repository root).
testing::CommandResult keel_in(const std::string& folder, const std::string& args) {
  return testing::run_command({"sh", "-c", "cd '" + folder + "' && exec '" + testing::keel_binary() + "' " + args});
}

TEST(CommandLine, AnUnknownCommandIsNamedWithTheNearestOne) {
  auto r = testing::run_keel({"frobnicate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("keel: unknown command 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Commands: plan, "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos) << r.err;
  r = testing::run_keel({"--log-level", "warn", "plna", "x.yaml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("did you mean 'plan'?"), std::string::npos) << r.err;
  r = testing::run_keel({"agent", "aprove", "CASE-1", "6"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("keel agent: unknown command 'aprove'; did you mean 'approve'?"), std::string::npos) << r.err;
  // Known commands still parse, positionals included.
  r = testing::run_keel({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CommandLine, AMissingModelIsNotAMemoryProblem) {
  auto r = testing::run_keel({"serve", "--model", "/nonexistent/model.gguf", "--port", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("memory budget"), std::string::npos) << r.err;
}

TEST(CommandLine, HelpShowsDefaults) {
  auto r = testing::run_keel({"serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("=8080"), std::string::npos) << r.out;  // --port
  r = testing::run_keel({"run", "--help"});
  EXPECT_NE(r.out.find("=auto"), std::string::npos) << r.out;  // --answer
}

// The agent's read-only verbs do not offer the flags that only running a case uses.
TEST(CommandLine, VerbsListOnlyTheirOwnOptions) {
  auto pending = testing::run_keel({"agent", "pending", "--help"});
  EXPECT_EQ(pending.out.find("--model-url"), std::string::npos) << pending.out;
  EXPECT_EQ(pending.out.find("--lease-s"), std::string::npos) << pending.out;
  auto resume = testing::run_keel({"agent", "resume", "--help"});
  EXPECT_NE(resume.out.find("--model-url"), std::string::npos) << resume.out;
}

// The K009 hint names the model file as a path that works from where `keel plan` was run.
TEST(CommandLine, PlanHintsWorkOutsideTheRepository) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("specs/models"));
  std::filesystem::copy_file(testing::source_dir() + "/models/keel-tiny-chat.gguf", dir.file("specs/models/m.gguf"));
  testing::write_file(dir.file("specs/s.yaml"), R"(keel: 1
name: s
scenario: local-research
data: {classes: [internal], sources: [{id: docs, kind: folder, path: docs, access: read-only}]}
slo: {ttft_ms: {p95: 2000}, workload: {rps: 1}}
deployment:
  target: desktop
  egress: none
  models: [{id: main, path: models/m.gguf, role: generate}]
failure: {inject: [egress-attempt]}
)");
  auto r = keel_in(dir.path(), "plan specs/s.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json plan = Json::parse(r.out);
  std::string hint;
  for (const auto& c : plan["checks"]) {
    if (c["id"] == "K009") hint = c["message"].get<std::string>();
  }
  EXPECT_NE(hint.find("run `keel check-model specs/models/m.gguf`"), std::string::npos) << hint;
  // Following the hint from that folder works, and silences the warning.
  EXPECT_EQ(keel_in(dir.path(), "check-model specs/models/m.gguf").exit_code, 0);
  r = keel_in(dir.path(), "plan specs/s.yaml --json");
  for (const auto& c : Json::parse(r.out)["checks"]) {
    if (c["id"] == "K009") {
      EXPECT_EQ(c["status"], "pass") << c.dump();
    }
  }
}

// `keel run` accepts the --model its notice suggests, and asks the example's sample question when
// none is given, from any folder.
TEST(CommandLine, RunTakesModelFlagsAndTheSampleQuestion) {
  testing::TempDir dir;
  const std::string model = dir.file("my-chat.gguf");
  std::filesystem::copy_file(testing::source_dir() + "/models/keel-tiny-chat.gguf", model);
  auto r = keel_in(dir.path(), "run " + testing::source_dir() + "/examples/local-research.yaml --model " + model +
                                   " --store " + dir.file("store.db") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["model"]["path"], model);
  std::string sample = testing::read_file(testing::source_dir() + "/examples/local-research/sample_question.txt");
  sample = sample.substr(0, sample.find('\n'));
  EXPECT_EQ(j["question"], sample);
  EXPECT_NE(r.err.find("asking the sample question"), std::string::npos) << r.err;
  r = testing::run_keel({"run", testing::source_dir() + "/examples/local-research.yaml", "--model", dir.file("absent.gguf")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("absent.gguf"), std::string::npos) << r.err;
}

// Hints the agent prints carry the flags that name the deployment, so pasting them works.
TEST(CommandLine, AgentHintsCarryTheDeploymentFlags) {
  testing::TempDir dir;
  const std::string spec = testing::source_dir() + "/examples/durable-agent.yaml";
  auto r = keel_in(dir.path(), "agent run " + spec + " --case CASE-2 --state-dir " + dir.file("state"));
  ASSERT_NE(r.out.find("keel agent resume CASE-2 --spec " + spec + " --state-dir " + dir.file("state")),
            std::string::npos)
      << r.out << r.err;
  // The same case again: refused, with a resume command that works as printed.
  r = keel_in(dir.path(), "agent run " + spec + " --case CASE-2 --state-dir " + dir.file("state"));
  EXPECT_NE(r.err.find("`keel agent resume CASE-2 --spec " + spec + " --state-dir " + dir.file("state") + "`"),
            std::string::npos)
      << r.err;
  // Outside the repository root, without --spec, the bundled example is still found.
  r = keel_in(dir.path(), "agent pending --state-dir " + dir.file("state"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("case CASE-2"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace keel
