// The fault-injection table cannot rot: every test it names is looked up in the test sources
// (TEST, TEST_F and TEST_P macros parsed from tests/**/*.cpp), so renaming or deleting a test
// that a plan cites as `tested by` fails here.
#include "contract/fault_injections.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "contract/plan.h"
#include "support/test_support.h"

namespace keel::contract {
namespace {

// "tests/x/y_test.cpp" -> {"Suite.Name", ...}
std::map<std::string, std::set<std::string>> tests_in_sources() {
  std::map<std::string, std::set<std::string>> out;
  const std::filesystem::path root = testing::source_dir();
  const std::regex test_macro(R"(^\s*TEST(_F|_P)?\(\s*(\w+)\s*,\s*(\w+)\s*\))");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root / "tests")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".cpp") continue;
    const std::string rel = std::filesystem::relative(entry.path(), root).string();
    if (rel.find("node_modules") != std::string::npos) continue;
    std::string text = testing::read_file(entry.path().string());
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::smatch m;
      std::string line = text.substr(start, end - start);
      if (std::regex_search(line, m, test_macro)) out[rel].insert(m[2].str() + "." + m[3].str());
      start = end + 1;
    }
  }
  return out;
}

TEST(FaultInjections, EveryNamedTestExistsInTheTestSources) {
  auto sources = tests_in_sources();
  ASSERT_GT(sources.size(), 20u) << "the test sources were not found under "
                                 << testing::source_dir();
  ASSERT_FALSE(fault_injections().empty());
  for (const auto& row : fault_injections()) {
    const std::string test(row.test);
    SCOPED_TRACE(test);
    const size_t space = test.find(' ');
    ASSERT_NE(space, std::string::npos) << "expected \"<file> Suite.Name\"";
    const std::string file = test.substr(0, space), name = test.substr(space + 1);
    ASSERT_TRUE(sources.count(file)) << file << " is not a test source";
    EXPECT_TRUE(sources[file].count(name)) << name << " is not defined in " << file;
    EXPECT_FALSE(row.how.empty());
  }
}

TEST(FaultInjections, RowsAreUniqueAndOnlyForBuiltRuntimes) {
  std::set<std::string> seen;
  for (const auto& row : fault_injections()) {
    std::string key = std::string(enum_name(row.fault)) + "/" +
                      std::string(enum_name(row.scenario)) + "/" + std::string(row.test);
    EXPECT_TRUE(seen.insert(key).second) << "duplicate row " << key;
    // A test cannot inject a fault into a runtime that does not exist.
    EXPECT_TRUE(runtime_built(row.scenario)) << key;
    EXPECT_EQ(injections_for(row.fault, row.scenario).empty(), false);
  }
  EXPECT_FALSE(injections_for(Fault::thermal_throttle, ScenarioId::mobile_vision).empty());
  EXPECT_TRUE(injections_for(Fault::thermal_throttle, ScenarioId::llm_service).empty());
}

// The test parser itself: it finds the tests of this file, and would miss a renamed one.
TEST(FaultInjections, TheSourceParserFindsTests) {
  auto sources = tests_in_sources();
  const auto& mine = sources["tests/contract/fault_injections_test.cpp"];
  EXPECT_TRUE(mine.count("FaultInjections.EveryNamedTestExistsInTheTestSources"));
  EXPECT_TRUE(mine.count("FaultInjections.TheSourceParserFindsTests"));
  EXPECT_FALSE(mine.count("FaultInjections.NoSuchTest"));
  EXPECT_TRUE(sources["tests/agent/journal_test.cpp"].count(
      "JournalTest.CreatesReadsAndListsCases"));  // TEST_P
}

}  // namespace
}  // namespace keel::contract
