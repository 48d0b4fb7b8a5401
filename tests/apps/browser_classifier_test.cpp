// The browser classifier in a real browser: Debian's Chromium driven by playwright-core
// (tests/web/browser_classifier_test.mjs) against `keel web serve` on loopback, one group of
// the suite per test here, so each fault the plan cites has a test of its own name. Each group
// must run at least the tests it names and fail none; skipped groups count as failures.
#include <gtest/gtest.h>

#include <regex>

#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }

// Runs the tests of `file` whose name (or whose group's name) matches `pattern`.
void run_browser_tests(const std::string& file, const std::string& pattern, int at_least) {
  ASSERT_TRUE(testing::have_program("node")) << "node is missing: run tools/setup.sh";
  std::vector<std::string> argv = {"node", "--test"};
  if (!pattern.empty()) argv.push_back("--test-name-pattern=" + pattern);
  argv.push_back(repo(file));
  auto r = testing::run_command(argv, "", {{"KEEL_BIN", testing::keel_binary()}}, 300);
  const std::string out = r.out + r.err;
  std::smatch pass, fail;
  ASSERT_TRUE(std::regex_search(out, pass, std::regex(R"(# pass (\d+))"))) << out;
  ASSERT_TRUE(std::regex_search(out, fail, std::regex(R"(# fail (\d+))"))) << out;
  EXPECT_EQ(r.exit_code, 0) << out;
  EXPECT_EQ(std::stoi(fail[1].str()), 0) << out;
  EXPECT_GE(std::stoi(pass[1].str()), at_least) << out;
}

const std::string kSuite = "tests/web/browser_classifier_test.mjs";

TEST(BrowserClassifier, AFirstVisitVerifiesAndASecondFetchesOnlyThePage) {
  // (a) download + verify + label; (b) the second visit; an evicted or corrupted cache entry
  // is deleted, downloaded and verified again.
  run_browser_tests(kSuite, "first and second visit", 3);
}

TEST(BrowserClassifier, ATamperedModelOrAnotherSignerLeavesTheForm) {
  run_browser_tests(kSuite, "^\\(c\\) a tampered|^\\(d\\)", 2);
}

TEST(BrowserClassifier, WithoutAUsableGpuItRunsOnWasmAndSaysWhy) {
  run_browser_tests(kSuite, "^\\(e\\) providers", 4);
}

TEST(BrowserClassifier, LowMemoryAndNoJavaScriptStillFileTheDocument) {
  run_browser_tests(kSuite, "^\\(f\\)|^\\(g\\)", 2);
}

TEST(BrowserClassifier, RemoteClassificationWaitsForConsent) {
  run_browser_tests(kSuite, "^\\(h\\)", 2);
}

TEST(BrowserClassifier, AHundredClassificationsKeepTheHeapFlatAndThePageResponsive) {
  run_browser_tests(kSuite, "^\\(i\\)", 1);
}

TEST(BrowserClassifier, MeasurementsReachTheServerAndTheResultsPage) {
  // The visits it reads the measurements of: a cold and a warm one, a low-memory one, and the
  // hundred classifications of (i), each of which must be reported exactly once.
  run_browser_tests(kSuite, "first and second visit|^\\(f\\)|^\\(i\\)|^measurements reach", 6);
}

TEST(BrowserClassifier, TheFeaturizerInJavaScriptMatchesTheRecipe) {
  run_browser_tests("tests/web/featurizer_test.mjs", "", 5);
}

}  // namespace
}  // namespace keel
