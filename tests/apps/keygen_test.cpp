// keel keygen: the key-file entry it prints is YAML that says exactly one tenant, whatever the
// tenant's name, and names with control characters are refused.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/hash.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

TEST(Keygen, TheEntryIsOneTenantWhateverItsName) {
  for (std::string tenant : {std::string("team-search"), std::string("evil\", models: [\"*\"]"),
                             std::string("x: y # - id: other"), std::string("naïve [0]")}) {
    auto r = testing::run_keel({"keygen", "--tenant", tenant, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = parse_json(r.out);
    ASSERT_TRUE(j.ok()) << r.out;
    const std::string key = (*j)["key"].get<std::string>();
    EXPECT_EQ((*j)["key_sha256"], sha256_hex(key));
    YAML::Node entry = YAML::Load((*j)["key_file_entry"].get<std::string>());
    ASSERT_TRUE(entry.IsSequence());
    ASSERT_EQ(entry.size(), 1u) << (*j)["key_file_entry"];
    EXPECT_EQ(entry[0].size(), 2u) << "only id and keys_sha256";
    EXPECT_EQ(entry[0]["id"].as<std::string>(), tenant);
    ASSERT_EQ(entry[0]["keys_sha256"].size(), 1u);
    EXPECT_EQ(entry[0]["keys_sha256"][0].as<std::string>(), sha256_hex(key));
  }
}

TEST(Keygen, RefusesControlCharactersInTheTenant) {
  auto r = testing::run_keel({"keygen", "--tenant", "a\n  - id: injected\n    models: [\"*\"]"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("without control characters"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace keel
