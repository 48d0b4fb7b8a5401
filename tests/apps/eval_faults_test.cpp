// `keel eval SCENARIO --faults` end to end: the real binary injects each fault into the
// scenario's real components and reports what was recovered. Every fault it runs must be
// recovered from; the ones it leaves to other tests are named with those tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "core/json.h"
#include "support/small_filesystem.h"
#include "support/test_support.h"

namespace keel {
namespace {

Json run_faults(const std::string& scenario) {
  auto r = testing::run_keel({"eval", scenario, "--faults", "--spec",
                              testing::source_dir() + "/examples/" + scenario + ".yaml", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = parse_json(r.out);
  EXPECT_TRUE(j.ok()) << r.out << r.err;
  return j.ok() ? *j : Json();
}

std::set<std::string> check_runs(const Json& report) {
  std::set<std::string> ran;
  for (const auto& f : report["faults"]) {
    SCOPED_TRACE(f.dump());
    if (!f["ran"].get<bool>()) {
      // Only the tmpfs injections may be skipped, and only when this is not root outside CI.
      EXPECT_EQ(f["fault"], "disk-full");
      EXPECT_FALSE(geteuid() == 0 || testing::running_in_ci())
          << "disk-full must run as root and in CI";
      continue;
    }
    EXPECT_TRUE(f["passed"].get<bool>());
    EXPECT_FALSE(f["injected"].get<std::string>().empty());
    EXPECT_FALSE(f["observed"].get<std::string>().empty());
    ran.insert(f["fault"].get<std::string>());
  }
  EXPECT_EQ(report["failed"], 0);
  return ran;
}

TEST(EvalFaults, LocalResearchRecoversFromEachInjectedFault) {
  Json report = run_faults("local-research");
  auto ran = check_runs(report);
  for (const char* f : {"stale-index", "storage-corrupt", "egress-attempt", "model-unfit"})
    EXPECT_TRUE(ran.count(f)) << f;
}

TEST(EvalFaults, DurableAgentRecoversFromEachInjectedFault) {
  Json report = run_faults("durable-agent");
  auto ran = check_runs(report);
  for (const char* f : {"worker-kill", "tool-timeout", "approval-timeout", "storage-corrupt"})
    EXPECT_TRUE(ran.count(f)) << f;
  // The spec's other faults are named with the tests that inject them.
  bool model_restart = false;
  for (const auto& f : report["declared_not_run_here"]) {
    if (f["fault"] == "model-restart") {
      model_restart = true;
      EXPECT_NE(f["injection"].get<std::string>().find("tested by tests/apps/agent_test.cpp"),
                std::string::npos)
          << f.dump();
    }
  }
  EXPECT_TRUE(model_restart);
}

TEST(EvalFaults, ScenariosWithoutInjectionsAreRefused) {
  auto r = testing::run_keel({"eval", "durable-agent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--faults"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keel
