// The condition language of approvals and policy rules.
#include <gtest/gtest.h>

#include "contract/condition.h"
#include "core/json.h"

namespace keel::contract {
namespace {

Result<bool> eval(const std::string& text, const Json& vars) {
  auto c = Condition::parse(text);
  if (!c.ok()) return c.status();
  return c->evaluate(vars);
}

const Json kVars = {{"args", {{"amount", 150}, {"status", "resolved"}, {"tags", {"vip", "eu"}}}},
                    {"case", {{"status", "open"}, {"refunded", 0.0}}},
                    {"principal", {{"id", "agent"}, {"roles", {"support-agent"}}}}};

TEST(Condition, EvaluatesComparisonsAndLogic) {
  struct Case {
    std::string text;
    bool expected;
  };
  for (const auto& c : std::vector<Case>{
           {"args.amount > 100", true},
           {"args.amount > 150", false},
           {"args.amount >= 150", true},
           {"args.amount == 150.0", true},
           {"args.amount != 150", false},
           {"args.amount < -5", false},
           {"case.status == 'open'", true},
           {"case.status == \"closed\"", false},
           {"case.status == 'open' && args.amount > 100", true},
           {"case.status == 'closed' || args.amount > 100", true},
           {"!(case.status == 'open')", false},
           {"!!true", true},
           {"'vip' in args.tags", true},
           {"'us' in args.tags", false},
           {"args.status in ['resolved', 'closed']", true},
           {"'support' in principal.id", false},
           {"'gen' in principal.id", true},
           {"'approver' in principal.roles", false},
           {"args.missing == null", true},
           {"args.missing.deeper == null", true},
           {"'x' in args.missing", false},
           {"case.status < 'p'", true},
           {"(args.amount > 100 && (case.refunded == 0))", true},
       }) {
    auto r = eval(c.text, kVars);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(*r, c.expected) << c.text;
  }
}

TEST(Condition, SyntaxErrorsNameTheColumn) {
  for (const auto& [text, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"args.amount >", "expected a value at column 14"},
           {"args.amount > 100 )", "unexpected text at column 19"},
           {"(args.amount > 1", "expected ')'"},
           {"case.status == 'open", "unterminated string"},
           {"args. > 1", "expected a name after '.'"},
           {"args.amount >> 1", "expected a value"},
           {"[1, 2", "expected ']'"},
           {"1.2.3 == x", "malformed number"},
           {"", "expected a value"},
       }) {
    auto c = Condition::parse(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(fragment), std::string::npos) << text << " -> " << c.status().message();
  }
  EXPECT_FALSE(Condition::parse(std::string(5000, '(')).ok());
  EXPECT_FALSE(Condition::parse(std::string(200, '(') + "true" + std::string(200, ')')).ok());  // too deep
}

TEST(Condition, TypeMistakesAreErrorsNotFalse) {
  for (const char* text : {"args.amount > 'big'", "case.status == 3", "args.amount && true", "!args.amount",
                           "args.amount", "1 in 2", "args.tags < args.tags"}) {
    auto r = eval(text, kVars);
    EXPECT_FALSE(r.ok()) << text;
  }
}

TEST(Condition, ReportsTheRootsItReads) {
  auto c = Condition::parse("args.amount > 1 && case.status == 'open' || 'x' in principal.roles");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->roots(), (std::vector<std::string>{"args", "case", "principal"}));
  EXPECT_EQ(c->text(), "args.amount > 1 && case.status == 'open' || 'x' in principal.roles");
}

}  // namespace
}  // namespace keel::contract
