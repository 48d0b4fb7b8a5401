// The JSON Schema validator against the official JSON-Schema-Test-Suite (Debian package
// json-schema-test-suite): every draft-7 case whose schema stays inside the keywords the
// validator supports must come out as the suite says. Draft 7 is the newest draft the packaged
// suite has; for these keywords its meaning is the one the validator implements (2020-12).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/json.h"
#include "core/json_schema.h"
#include "support/test_support.h"

namespace keel {
namespace {

const char* kSuite = "/usr/share/json-schema-test-suite/tests/draft7";

TEST(JsonSchemaSuite, SupportedKeywordsAgreeWithTheOfficialSuite) {
  if (!std::filesystem::is_directory(kSuite)) {
    KEEL_SKIP_OUTSIDE_CI(std::string("the JSON-Schema-Test-Suite is not installed (") + kSuite + ")");
  }
  // The keyword files that exercise what the validator claims (json_schema.h).
  const std::vector<std::string> files = {
      "type", "properties", "required", "additionalProperties", "enum", "const", "minimum", "maximum",
      "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "items", "minItems",
      "maxItems", "uniqueItems", "allOf", "anyOf", "oneOf", "not"};
  int total_run = 0, total_unsupported = 0;
  for (const auto& name : files) {
    const std::string path = std::string(kSuite) + "/" + name + ".json";
    auto groups = parse_json(testing::read_file(path));
    ASSERT_TRUE(groups.ok()) << path;
    int run = 0, unsupported = 0;
    for (const auto& group : *groups) {
      const Json& schema = group["schema"];
      if (!check_schema(schema).ok()) {
        unsupported += static_cast<int>(group["tests"].size());
        continue;
      }
      for (const auto& test : group["tests"]) {
        ++run;
        const bool valid = validate_json(schema, test["data"]).empty();
        EXPECT_EQ(valid, test["valid"].get<bool>())
            << name << ": " << group["description"].get<std::string>() << " / "
            << test["description"].get<std::string>() << "\n  schema " << schema.dump() << "\n  data " << test["data"].dump();
      }
    }
    EXPECT_GT(run, 0) << name << ": no case of this keyword ran";
    std::printf("  %-22s %3d cases run, %3d outside the supported keywords\n", name.c_str(), run, unsupported);
    total_run += run;
    total_unsupported += unsupported;
  }
  std::printf("  %d cases run, %d outside the supported keywords\n", total_run, total_unsupported);
  EXPECT_GE(total_run, 200);
}

}  // namespace
}  // namespace keel
