#include "core/json.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(Json, ParsesValidDocuments) {
  auto r = parse_json(R"({"a": [1, 2, {"b": "c"}], "d": null})");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["a"][2]["b"], "c");
}

TEST(Json, MalformedInputIsAnErrorNotAnException) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "nul", "\"unterminated", "{} {}"}) {
    auto r = parse_json(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
  }
}

TEST(Json, DeepNestingIsRefusedBeforeRecursing) {
  std::string deep(100000, '[');
  auto r = parse_json(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos);
  // Brackets inside strings do not count.
  std::string in_string = "\"" + std::string(1000, '[') + "\"";
  EXPECT_TRUE(parse_json(in_string).ok());
}

TEST(Json, InvalidUtf8IsRefusedWithItsOffset) {
  auto r = parse_json("{\"a\": \"\xff\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 7"), std::string::npos) << r.status().message();
}

TEST(Json, CanonicalFormIsStable) {
  auto a = parse_json(R"({"b": 1, "a": [true, "x"]})");
  auto b = parse_json(R"({ "a": [true,"x"],   "b": 1 })");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(canonical_json(*a), canonical_json(*b));
  EXPECT_EQ(canonical_json(*a), R"({"a":[true,"x"],"b":1})");
}

TEST(Json, DumpNeverThrowsOnBadUtf8) {
  Json j = std::string("bad \xc3");
  EXPECT_EQ(dump_json(j), "\"bad \xEF\xBF\xBD\"");
}

}  // namespace
}  // namespace keel
