// The enterprise-rag question set: expanded per tenant, per-tenant values picked, and a set with
// a mistake refused naming where.
#include "rag/evaluation.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel::rag {
namespace {

TEST(EvalSet, TheBundledSetExpandsPerTenant) {
  auto set = load_eval_set(testing::source_dir() + "/examples/enterprise-rag/questions.json");
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  EXPECT_EQ(set->customers.size(), 3u);
  int adversarial = 0, identity = 0;
  for (const auto& c : set->cases) {
    adversarial += c.kind == "adversarial";
    identity += c.kind == "identity";
    if (c.id == "return-window/globex") {
      EXPECT_EQ(c.expect_phrase, "45 days");
    }
    if (c.id == "hr-sees-salary/acme") {
      EXPECT_EQ(c.roles, std::vector<std::string>{"hr"});
    }
  }
  EXPECT_GE(adversarial, 20);
  EXPECT_EQ(identity, 12);
}

TEST(EvalSet, MistakesAreNamed) {
  const std::string head = R"({"keel_eval": 1, "tenants": {"a": {"customers": ["X"]}}, "questions": [)";
  struct Case {
    std::string question, fragment;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"id": "q", "kind": "metric", "question": "x", "colour": 1})", "unknown key 'colour'"},
           {R"({"id": "q", "kind": "poem", "question": "x"})", "unknown kind 'poem'"},
           {R"({"id": "q", "kind": "metric"})", "needs a question"},
           {R"({"id": "q", "kind": "document", "question": {"b": "x"}})", "no value for tenant a"},
           {R"({"id": "q", "kind": "metric", "question": "x", "tenants": ["z"]})", "does not declare"},
           {R"({"id": "q", "kind": "identity", "question": "x", "token": "stolen"})", "unknown token kind"}}) {
    auto set = parse_eval_set(head + c.question + "]}");
    ASSERT_FALSE(set.ok()) << c.question;
    EXPECT_NE(set.status().message().find(c.fragment), std::string::npos) << set.status().message();
  }
}

}  // namespace
}  // namespace keel::rag
