// JSON Schema validation of tool inputs and outputs.
#include <gtest/gtest.h>

#include "core/json_schema.h"

namespace keel {
namespace {

const Json kRefund = {
    {"type", "object"},
    {"properties",
     {{"order_id", {{"type", "string"}, {"pattern", "^ORD-[0-9]+$"}}},
      {"amount", {{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 10000}}},
      {"currency", {{"enum", {"EUR", "USD"}}}},
      {"reason", {{"type", "string"}, {"minLength", 3}, {"maxLength", 10}}},
      {"lines", {{"type", "array"}, {"maxItems", 2}, {"uniqueItems", true}, {"items", {{"type", "integer"}}}}}}},
    {"required", {"order_id", "amount"}},
    {"additionalProperties", false}};

std::string violations(const Json& value) { return describe_violations(validate_json(kRefund, value)); }

TEST(JsonSchema, AcceptsValidValues) {
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 12.5}}), "");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"currency", "EUR"}, {"reason", "héllo"}, {"lines", {1, 2}}}), "");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"lines", {3.0}}}), "");  // 3.0 is an integer
}

TEST(JsonSchema, NamesEachViolationByPath) {
  EXPECT_EQ(violations({{"amount", 5}}), "$.order_id is required");
  EXPECT_EQ(violations({{"order_id", 7}, {"amount", 5}}), "$.order_id must be of type string, not number");
  EXPECT_EQ(violations({{"order_id", "X-1"}, {"amount", 5}}), "$.order_id must match the pattern ^ORD-[0-9]+$");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 0}}), "$.amount must be more than 0");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 20000}}), "$.amount must be at most 10000");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"currency", "GBP"}}), "$.currency must be one of [\"EUR\",\"USD\"]");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"reason", "éé"}}), "$.reason must have at least 3 characters");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"lines", {1, 1}}}), "$.lines must not repeat items");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"lines", {1, 2.5}}}), "$.lines[1] must be of type integer, not number");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"extra", true}}), "$.extra is not an allowed property");
  EXPECT_EQ(violations({{"order_id", "ORD-1"}, {"amount", 1}, {"we ird", true}}), "$[\"we ird\"] is not an allowed property");
  EXPECT_EQ(violations(Json::array()), "$ must be of type object, not array");
  auto many = validate_json(kRefund, {{"a", 1}, {"b", 2}, {"c", 3}}, 2);
  EXPECT_EQ(many.size(), 2u);  // bounded
}

TEST(JsonSchema, Combinators) {
  Json s = {{"anyOf", {{{"type", "string"}}, {{"type", "integer"}}}}};
  EXPECT_TRUE(validate_json(s, "x").empty());
  EXPECT_TRUE(validate_json(s, 3).empty());
  EXPECT_FALSE(validate_json(s, 3.5).empty());
  Json one = {{"oneOf", {{{"type", "number"}}, {{"type", "integer"}}}}};
  EXPECT_TRUE(validate_json(one, 3.5).empty());
  EXPECT_FALSE(validate_json(one, 3).empty());  // both match
  Json n = {{"not", {{"const", "closed"}}}};
  EXPECT_FALSE(validate_json(n, "closed").empty());
  EXPECT_TRUE(validate_json(n, "open").empty());
  EXPECT_FALSE(validate_json(Json(false), 1).empty());
  EXPECT_TRUE(validate_json(Json(true), 1).empty());
}

TEST(JsonSchema, RefusesSchemasOutsideTheSubset) {
  EXPECT_TRUE(check_schema(kRefund).ok());
  EXPECT_FALSE(check_schema({{"type", "strnig"}}).ok());
  EXPECT_FALSE(check_schema({{"$ref", "#/defs/x"}}).ok());
  EXPECT_FALSE(check_schema({{"properties", {{"a", {{"minimum", "1"}}}}}}).ok());
  EXPECT_FALSE(check_schema({{"pattern", "(unclosed"}}).ok());
  EXPECT_FALSE(check_schema({{"anyOf", Json::array()}}).ok());
  auto s = check_schema({{"properties", {{"a", {{"patternProperties", {}}}}}}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("$.properties.a: unsupported schema keyword 'patternProperties'"), std::string::npos) << s.message();
}

TEST(JsonSchema, PatternsRunInLinearTimeOnHugeUntrustedStrings) {
  // libstdc++'s std::regex recurses once per character on these: a 1 MiB string overflows the
  // stack. RE2 matches it in linear time and bounded memory.
  const std::string huge(1 << 20, 'a');
  EXPECT_TRUE(validate_json({{"pattern", "^(a|aa)+$"}}, huge).empty());
  EXPECT_FALSE(validate_json({{"pattern", "^(a+)+$"}}, huge + "b").empty());
  // Features RE2 does not run are refused up front, with the reason.
  auto lookahead = check_schema({{"pattern", "^(?=a)a"}});
  ASSERT_FALSE(lookahead.ok());
  EXPECT_NE(lookahead.message().find("no backreferences or lookaround"), std::string::npos) << lookahead.message();
  EXPECT_FALSE(check_schema({{"pattern", "(a)\\1"}}).ok());
  EXPECT_FALSE(check_schema({{"pattern", std::string(5000, 'a')}}).ok()) << "patterns are at most 4 KiB";
}

}  // namespace
}  // namespace keel
