// The case runner over the real journal, memory store and sample order system; only the model
// is scripted here (the CLI tests run cases with a real model). Every count of effects comes
// from the order system's own ledger.
#include <gtest/gtest.h>

#include "agent/case_report.h"
#include "samples/case_resolution.h"
#include "agent/case_runner.h"
#include "core/clock.h"
#include "core/json.h"
#include "example_deployment_fixture.h"
#include "support/approvals.h"
#include "support/test_support.h"

namespace keel::agent {
namespace {

class CaseRunnerTest : public ExampleDeploymentTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(load_example_spec());
    ASSERT_NO_FATAL_FAILURE(open_deployment());
    ASSERT_TRUE(tools_.check_against(spec_).ok());
    ASSERT_NO_FATAL_FAILURE(make_policy());
    model_.reply = {"We are sorry about that. ", "scripted", 40, 12, 0.01};
    model_.quote_request_chars = 20;
  }

  AgentStats stats() {
    auto s = compute_stats(*journal_);
    EXPECT_TRUE(s.ok());
    return *s;
  }
};

TEST_F(CaseRunnerTest, ACaseCompletesAndResumingRunsNothingTwice) {
  auto r = runner({.max_new_steps = 6});
  auto first = r.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent");
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_TRUE(first->paused);
  EXPECT_EQ(first->new_steps, 6);
  auto r2 = runner();
  auto done = r2.resume("CASE-1");
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, CaseState::completed) << done->message;
  EXPECT_EQ(done->replayed_steps, 6);
  EXPECT_GE(done->new_steps + done->replayed_steps, 12);
  EXPECT_EQ(done->result["decision"], "refunded");
  EXPECT_EQ(done->result["refunded"], 45.0);
  EXPECT_TRUE(done->result["verified"].get<bool>());
  EXPECT_EQ(model_.calls, 1);
  auto l = ledger("CASE-1");
  EXPECT_EQ(l.refunds, 1);
  EXPECT_EQ(l.status_changes, 2);
  EXPECT_EQ(l.notes, 1);
  auto again = r2.resume("CASE-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->new_steps, 0);
  EXPECT_EQ(ledger("CASE-1").refunds, 1);
  auto s = stats();
  EXPECT_EQ(s.completed, 1);
  EXPECT_EQ(s.replays, 1);
  EXPECT_EQ(s.model_prompt_tokens, 40);
}

TEST_F(CaseRunnerTest, ApprovalSuspendsTheCaseAndBindsToTheArguments) {
  auto r = runner();
  auto out = r.start("CASE-2", "case-resolution", {{"case_id", "CASE-2"}}, "agent");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->state, CaseState::waiting_approval) << out->message;
  EXPECT_EQ(journal_->get_case("CASE-2")->state, CaseState::waiting_approval);
  EXPECT_EQ(ledger("CASE-2").refunds, 0);
  auto pending = r.pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  const auto& p = (*pending)[0];
  EXPECT_EQ(p.tool, "issue_refund");
  EXPECT_EQ(p.args["amount"], 240.0);
  EXPECT_EQ(p.reason, "args.amount > 100 holds");
  EXPECT_GE(p.evidence["context"].size(), 3u);  // get_case, lookup_order, check_refund_policy, ...
  EXPECT_NE(p.evidence["reason"].get<std::string>().find("We are sorry"), std::string::npos);
  // Resuming without a decision changes nothing.
  auto still = r.resume("CASE-2");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->state, CaseState::waiting_approval);
  // Only approvers, not the case's own principal, signed, with the hash of what they saw.
  const ApproverKey key = keel::testing::demo_supervisor_key();
  ApprovalSubmission by_agent;
  by_agent.statement = keel::testing::decision_on(p, "agent", true, wall_now_ns());
  EXPECT_EQ(r.decide(by_agent).code(), StatusCode::permission_denied);
  PendingApproval other_args = p;
  other_args.args_sha256 = std::string(64, '0');
  EXPECT_EQ(r.decide(keel::testing::signed_decision(other_args, true, wall_now_ns(), key)).code(),
            StatusCode::failed_precondition);
  PendingApproval next_step = p;
  ++next_step.step;
  EXPECT_EQ(r.decide(keel::testing::signed_decision(next_step, true, wall_now_ns(), key)).code(), StatusCode::not_found);
  ASSERT_TRUE(r.decide(keel::testing::signed_decision(p, true, wall_now_ns(), key, "ok")).ok());
  EXPECT_EQ(r.decide(keel::testing::signed_decision(p, true, wall_now_ns(), key)).code(), StatusCode::failed_precondition);
  auto done = r.resume("CASE-2");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, CaseState::completed) << done->message;
  EXPECT_EQ(ledger("CASE-2").refunds, 1);
  auto s = stats();
  EXPECT_EQ(s.approvals_requested, 1);
  EXPECT_EQ(s.approvals_granted, 1);
}

TEST_F(CaseRunnerTest, ADeniedActionNeverExecutes) {
  auto r = runner();
  auto out = r.start("CASE-2", "case-resolution", {{"case_id", "CASE-2"}}, "agent");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->state, CaseState::waiting_approval);
  auto p = r.pending_request("CASE-2", out->pending_step);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_TRUE(r.decide(keel::testing::signed_decision(*p, false, wall_now_ns(), keel::testing::demo_supervisor_key(),
                                                      "needs a photo of the damage"))
                  .ok());
  auto done = r.resume("CASE-2");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, CaseState::completed);
  EXPECT_EQ(done->result["decision"], "escalated");
  EXPECT_EQ(ledger("CASE-2").refunds, 0);
  EXPECT_EQ(stats().approvals_denied, 1);
}

TEST_F(CaseRunnerTest, PolicyForbidsAndTheDenialIsJournaled) {
  auto r = runner();
  auto out = r.start("CASE-4", "case-resolution", {{"case_id", "CASE-4"}}, "agent");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->state, CaseState::completed);
  EXPECT_EQ(out->result["decision"], "escalated");
  EXPECT_EQ(ledger("CASE-4").refunds, 0);
  EXPECT_EQ(stats().policy_denies, 1);
  auto timeline = case_timeline(*journal_->get_case("CASE-4"), *journal_->read("CASE-4"));
  bool found = false;
  for (const auto& s : timeline["steps"]) {
    if (s["tool"] == "issue_refund") {
      found = true;
      EXPECT_FALSE(s["policy"]["allowed"].get<bool>());
      EXPECT_EQ(s["policy"]["rule"], "refund-cap");
      EXPECT_EQ(s["outcome"]["code"], "permission_denied");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(CaseRunnerTest, TransientErrorsAreRetried) {
  ASSERT_TRUE(sor_->set_config("transient_failures", 2).ok());
  ManualClock clock;  // the backoff sleeps on it: the test does not wait
  auto r = runner({.clock = &clock});
  auto out = r.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->state, CaseState::completed) << out->message;
  EXPECT_EQ(stats().tool_retries, 2);
  EXPECT_EQ(ledger("CASE-1").refunds, 1);
  // The tool's backoff (50 ms) doubles after each failed attempt: 50 + 100 ms.
  EXPECT_EQ(clock.slept_ns(), 150'000'000);
}

TEST_F(CaseRunnerTest, AnUnknownOutcomeIsCheckedNeverRetriedBlind) {
  // The order system applies every call (no deduplication) and then times out once.
  ASSERT_TRUE(sor_->set_config("dedupe_by_idempotency_key", 0).ok());
  ASSERT_TRUE(sor_->set_config("timeouts_after_commit", 1).ok());
  auto r = runner();
  auto out = r.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->state, CaseState::completed) << out->message;
  auto l = ledger("CASE-1");
  EXPECT_EQ(l.status_changes, 2) << "the timed-out status change was applied once";
  EXPECT_EQ(l.refunds, 1);
  auto s = stats();
  EXPECT_EQ(s.outcome_checks, 1);
  EXPECT_EQ(s.duplicates_prevented, 1);
}

TEST_F(CaseRunnerTest, AModelOutagePausesTheCaseUntilItIsBack) {
  model_.down = true;
  auto r = runner();
  auto out = r.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent");
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->paused);
  EXPECT_EQ(out->state, CaseState::running);
  EXPECT_NE(out->message.find("restarting"), std::string::npos) << out->message;
  EXPECT_EQ(journal_->get_case("CASE-1")->state, CaseState::running);
  model_.down = false;
  auto done = r.resume("CASE-1");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, CaseState::completed);
  EXPECT_EQ(done->replayed_steps, 4);  // the context steps before the model call
  EXPECT_EQ(ledger("CASE-1").refunds, 1);
}

TEST_F(CaseRunnerTest, CasesStayPinnedToTheirWorkflowVersion) {
  auto r = runner({.max_new_steps = 2});
  ASSERT_TRUE(r.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent").ok());
  WorkflowRegistry only_v2;
  WorkflowDefinition v2 = samples::case_resolution_workflow();
  v2.version = 2;
  only_v2.add(v2);
  CaseRunner other(*journal_, tools_, policy_, only_v2, &model_, {.worker_id = "w2"});
  auto out = other.resume("CASE-1");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("pinned to case-resolution version 1"), std::string::npos) << out.status().message();
}

// A workflow whose arguments depend on something outside the journal (which workflows must not
// do): the engine notices instead of executing something nobody approved or recorded.
int g_refund_amount = 150;
int g_first_tool = 0;

TEST_F(CaseRunnerTest, AnApprovalForDifferentArgumentsIsRefused) {
  workflows_.add({"altering", 1, "test", [](WorkflowContext& ctx) -> Result<Json> {
                    KEEL_ASSIGN_OR_RETURN(Json r, ctx.call_tool("issue_refund", {{"case_id", "CASE-2"}, {"order_id", "ORD-1002"},
                                                                                 {"amount", g_refund_amount}, {"reason", "test"}}));
                    return r;
                  }});
  auto r = runner();
  auto out = r.start("ALT-1", "altering", Json::object(), "agent");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->state, CaseState::waiting_approval);
  auto p = r.pending_request("ALT-1", out->pending_step);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(r.decide(keel::testing::signed_decision(*p, true, wall_now_ns(), keel::testing::demo_supervisor_key())).ok());
  g_refund_amount = 200;
  auto done = r.resume("ALT-1");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, CaseState::failed);
  EXPECT_NE(done->message.find("changed after supervisor approved them"), std::string::npos) << done->message;
  EXPECT_EQ(ledger("CASE-2").refunds, 0);
}

TEST_F(CaseRunnerTest, InvalidArgumentsAreRefusedBeforeExecution) {
  workflows_.add({"bad-args", 1, "test", [](WorkflowContext& ctx) -> Result<Json> {
                    return ctx.call_tool("issue_refund", {{"case_id", "CASE-1"}, {"order_id", "ORD-1001"}, {"amount", -5}, {"reason", "x"}});
                  }});
  auto r = runner();
  auto out = r.start("BAD-1", "bad-args", Json::object(), "agent");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->state, CaseState::failed);
  EXPECT_NE(out->message.find("$.amount must be more than 0"), std::string::npos) << out->message;
  EXPECT_EQ(records("BAD-1", record::intent), 0);
  EXPECT_EQ(ledger("CASE-1").refunds, 0);
}

TEST_F(CaseRunnerTest, ANondeterministicWorkflowIsStopped) {
  workflows_.add({"flaky", 1, "test", [](WorkflowContext& ctx) -> Result<Json> {
                    const char* tool = g_first_tool++ == 0 ? "get_case" : "lookup_order";
                    Json args = g_first_tool == 1 ? Json{{"case_id", "CASE-1"}} : Json{{"order_id", "ORD-1001"}};
                    KEEL_RETURN_IF_ERROR(ctx.call_tool(tool, args).status());
                    return ctx.call_tool("get_case", {{"case_id", "CASE-1"}});
                  }});
  auto r = runner({.max_new_steps = 1});
  ASSERT_TRUE(r.start("FLAKY-1", "flaky", Json::object(), "agent").ok());
  auto r2 = runner();
  auto out = r2.resume("FLAKY-1");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->state, CaseState::failed);
  EXPECT_NE(out->message.find("not deterministic"), std::string::npos) << out->message;
}

TEST_F(CaseRunnerTest, StatsRenderAsPrometheusText) {
  auto r = runner();
  ASSERT_TRUE(r.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent").ok());
  std::string text = stats_prometheus(stats());
  for (const char* name : {"keel_agent_cases{state=\"completed\"} 1", "keel_agent_duplicates_prevented_total 0",
                           "keel_agent_approvals_total{event=\"requested\"} 0", "keel_agent_model_tokens_total{kind=\"prompt\"} 40"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
  }
  auto check = keel::testing::run_command({"promtool", "check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

}  // namespace
}  // namespace keel::agent
