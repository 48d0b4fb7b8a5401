// Permissions (forbid wins, default deny, conditions never grant on error), approval needs and
// idempotency keys.
#include <gtest/gtest.h>

#include "agent/policy.h"
#include "agent/tool.h"
#include "contract/spec_parser.h"
#include "core/json.h"

namespace keel::agent {
namespace {

const char* kSpec = R"(
keel: 1
name: policy-test
scenario: durable-agent
data: {classes: [confidential]}
authority:
  principals:
    - {id: agent, roles: [support-agent]}
    - {id: manager, roles: [case-manager]}
    - {id: boss, roles: [approver, support-agent]}
    - {id: odd, roles: [odd-desk]}
  tools:
    - {name: read_thing, effect: read, roles: [support-agent]}
    - {name: refund, effect: irreversible, idempotency: required, approval: conditional, condition: "args.amount > 100", roles: [support-agent, odd-desk]}
    - {name: close, effect: write, idempotency: required, approval: always, roles: [case-manager]}
    - {name: weird, effect: write, idempotency: required, approval: conditional, condition: "args.amount > 'x'", roles: [support-agent]}
  policy:
    - {id: cap, effect: forbid, tools: [refund], when: "args.amount > 500", reason: "too large"}
    - {id: vip-only, effect: forbid, tools: [refund], roles: [odd-desk], when: "case.tier == 3", reason: "type error on purpose"}
    - {id: managers-refund, effect: permit, tools: [refund], roles: [case-manager], when: "args.amount < 50"}
    - {id: frozen, effect: forbid, tools: ["*"], when: "case.status == 'closed'", reason: "closed cases are final"}
  system_of_record: sor
slo: {e2e_ms: {p95: 1000}, workload: {rps: 1}}
deployment: {target: workflow, egress: none}
failure: {inject: [worker-kill]}
components: [{id: sor, kind: sqlite, path: sor.db}]
)";

Policy policy() {
  auto parsed = contract::parse_spec_text(kSpec);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error()[0].to_string());
  auto p = Policy::from_spec(*parsed);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return std::move(*p);
}

const Json kOpen = {{"status", "open"}, {"tier", "gold"}};

TEST(Policy, RolesPermitAndEverythingElseIsDenied) {
  Policy p = policy();
  auto d = p.decide("agent", "read_thing", Json::object(), kOpen);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, "tool:read_thing");
  d = p.decide("manager", "read_thing", Json::object(), kOpen);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "default-deny");
  EXPECT_NE(d.reason.find("case-manager"), std::string::npos) << d.reason;
  EXPECT_EQ(p.decide("agent", "delete_everything", Json::object(), kOpen).rule, "undeclared-tool");
  EXPECT_EQ(p.decide("mallory", "read_thing", Json::object(), kOpen).rule, "unknown-principal");
}

TEST(Policy, ForbidWinsOverPermit) {
  Policy p = policy();
  EXPECT_TRUE(p.decide("agent", "refund", {{"amount", 80}}, kOpen).allowed);
  auto d = p.decide("agent", "refund", {{"amount", 800}}, kOpen);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "cap");
  EXPECT_EQ(d.reason, "too large");
  d = p.decide("agent", "refund", {{"amount", 80}}, {{"status", "closed"}, {"tier", "gold"}});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "frozen");
}

TEST(Policy, ConditionsScopePermitsAndNeverGrantOnError) {
  Policy p = policy();
  EXPECT_TRUE(p.decide("manager", "refund", {{"amount", 20}}, kOpen).allowed);
  EXPECT_FALSE(p.decide("manager", "refund", {{"amount", 60}}, kOpen).allowed);
  // `case.tier == 3` compares a string with a number: the forbid rule applies (fail safe).
  auto d = p.decide("odd", "refund", {{"amount", 10}}, kOpen);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "vip-only");
  EXPECT_NE(d.reason.find("could not be evaluated"), std::string::npos) << d.reason;
}

TEST(Policy, ApprovalFollowsTheSpec) {
  Policy p = policy();
  EXPECT_FALSE(p.approval("agent", "refund", {{"amount", 100}}, kOpen).required);
  auto need = p.approval("agent", "refund", {{"amount", 101}}, kOpen);
  EXPECT_TRUE(need.required);
  EXPECT_EQ(need.reason, "args.amount > 100 holds");
  EXPECT_TRUE(p.approval("manager", "close", Json::object(), kOpen).required);
  EXPECT_FALSE(p.approval("agent", "read_thing", Json::object(), kOpen).required);
  // A condition that errs asks a human.
  auto odd = p.approval("agent", "weird", {{"amount", 5}}, kOpen);
  EXPECT_TRUE(odd.required);
  EXPECT_NE(odd.reason.find("could not be evaluated"), std::string::npos);
  EXPECT_TRUE(p.may_approve("boss"));
  EXPECT_FALSE(p.may_approve("agent"));
  EXPECT_FALSE(p.may_approve("nobody"));
}

TEST(Idempotency, KeysDependOnCaseStepToolAndCanonicalArguments) {
  Json a = {{"amount", 10}, {"order", "O-1"}};
  Json same = Json::parse(R"({"order":"O-1","amount":10})");
  EXPECT_EQ(idempotency_key("c", 3, "refund", a), idempotency_key("c", 3, "refund", same));
  EXPECT_NE(idempotency_key("c", 3, "refund", a), idempotency_key("c", 4, "refund", a));
  EXPECT_NE(idempotency_key("c", 3, "refund", a), idempotency_key("d", 3, "refund", a));
  EXPECT_NE(idempotency_key("c", 3, "refund", a), idempotency_key("c", 3, "close", a));
  EXPECT_NE(idempotency_key("c", 3, "refund", a), idempotency_key("c", 3, "refund", {{"amount", 11}, {"order", "O-1"}}));
  EXPECT_EQ(idempotency_key("c", 3, "refund", a).rfind("keel-", 0), 0u);
  EXPECT_EQ(args_sha256(a), args_sha256(same));
  EXPECT_EQ(args_sha256(a).size(), 64u);
}

}  // namespace
}  // namespace keel::agent
