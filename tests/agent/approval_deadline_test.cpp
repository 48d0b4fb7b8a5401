// Approval deadlines on an injected clock: a pending approval is reminded once past the tool's
// approval_remind_after_s and denied as expired past approval_expire_after_s, after which the
// case runs on without the action. The journal, the order system and the memory store are
// real; the model is scripted and time is a ManualClock (no sleeping).
#include <gtest/gtest.h>

#include "agent/case_runner.h"
#include "core/clock.h"
#include "core/json.h"
#include "example_deployment_fixture.h"
#include "support/approvals.h"
#include "support/test_support.h"

namespace keel::agent {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

class ApprovalDeadline : public ExampleDeploymentTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(load_example_spec());
    for (auto& t : spec_.authority.tools) {
      if (t.name == "issue_refund") {
        t.approval_remind_after_s = 3600;
        t.approval_expire_after_s = 86400;
      }
    }
    ASSERT_NO_FATAL_FAILURE(open_deployment());
    ASSERT_NO_FATAL_FAILURE(make_policy());
  }

  CaseRunner runner() { return ExampleDeploymentTest::runner({.worker_id = "w", .clock = &clock_}); }
  int64_t refunds(const std::string& id) { return ledger(id).refunds; }
};

TEST_F(ApprovalDeadline, APendingApprovalIsRemindedThenExpires) {
  auto r = runner();
  const int64_t start = clock_.unix_now_ns();
  auto out = r.start("CASE-2", "case-resolution", {{"case_id", "CASE-2"}},
                     "agent");  // a refund of 240 > 100
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out->state, CaseState::waiting_approval);
  auto pending = r.pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].remind_at_ns, start + 3600 * kSecond);
  EXPECT_EQ((*pending)[0].expires_at_ns, start + 86400 * kSecond);
  EXPECT_FALSE((*pending)[0].reminded);

  // Before the reminder time: nothing happens.
  clock_.advance_ns(3599 * kSecond);
  auto early = r.sweep_approvals();
  ASSERT_TRUE(early.ok()) << early.status().to_string();
  EXPECT_EQ(early->reminded + early->expired, 0);
  EXPECT_EQ(records("CASE-2", record::approval_reminded), 0);

  // Past it: one reminder, journaled once however often the sweep runs; still nothing executes.
  clock_.advance_ns(2 * kSecond);
  auto reminded = r.sweep_approvals();
  ASSERT_TRUE(reminded.ok());
  EXPECT_EQ(reminded->reminded, 1);
  EXPECT_EQ(reminded->expired, 0);
  ASSERT_EQ(reminded->events.size(), 1u);
  EXPECT_NE(reminded->events[0].find("reminded"), std::string::npos) << reminded->events[0];
  EXPECT_EQ(r.sweep_approvals()->reminded, 0);
  EXPECT_EQ(records("CASE-2", record::approval_reminded), 1);
  EXPECT_TRUE((*r.pending())[0].reminded);
  EXPECT_EQ(journal_->get_case("CASE-2")->state, CaseState::waiting_approval);
  EXPECT_EQ(refunds("CASE-2"), 0);

  // Past the expiry: work() sweeps first, the request is denied as expired, and the claimed
  // case runs on without the refund (the workflow escalates a denied refund).
  clock_.advance_ns(86400 * kSecond);
  auto ran = r.work();
  ASSERT_TRUE(ran.ok()) << ran.status().to_string();
  EXPECT_EQ(*ran, 1);
  auto c = journal_->get_case("CASE-2");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, CaseState::completed);
  EXPECT_EQ(refunds("CASE-2"), 0);
  auto all = journal_->read("CASE-2");
  ASSERT_TRUE(all.ok());
  bool expired_denial = false;
  for (const auto& rec : *all) {
    if (rec.kind == record::approval_denied) {
      expired_denial = rec.data.value("expired", false) && rec.data.value("by", "") == "keel";
      EXPECT_NE(rec.data.value("reason", "").find("86400"), std::string::npos) << rec.data.dump();
    }
    if (rec.kind == record::case_completed) {
      EXPECT_EQ(rec.data["result"]["decision"], "escalated") << rec.data.dump();
    }
  }
  EXPECT_TRUE(expired_denial);
  EXPECT_TRUE(r.pending()->empty());
  // A reviewer arriving late finds nothing to approve.
  agent::PendingApproval late{"CASE-2", out->pending_step, "issue_refund"};
  late.args_sha256 = std::string(64, 'a');
  EXPECT_EQ(r.decide(keel::testing::signed_decision(late, true, clock_.unix_now_ns(),
                                                    keel::testing::demo_supervisor_key()))
                .code(),
            StatusCode::failed_precondition);
}

TEST_F(ApprovalDeadline, ADecisionBeforeTheDeadlineStands) {
  auto r = runner();
  auto out = r.start("CASE-2", "case-resolution", {{"case_id", "CASE-2"}}, "agent");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->state, CaseState::waiting_approval);
  clock_.advance_ns(7200 * kSecond);
  ASSERT_EQ(r.sweep_approvals()->reminded, 1);
  auto p = r.pending_request("CASE-2", out->pending_step);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(r.decide(keel::testing::signed_decision(*p, true, clock_.unix_now_ns(),
                                                      keel::testing::demo_supervisor_key()))
                  .ok());
  clock_.advance_ns(100000 * kSecond);
  auto swept = r.sweep_approvals();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->expired, 0) << "a decided approval never expires";
  auto done = r.resume("CASE-2");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, CaseState::completed);
  EXPECT_EQ(done->result["decision"], "refunded");
  EXPECT_EQ(refunds("CASE-2"), 1);
}

TEST_F(ApprovalDeadline, WithoutDeadlinesAnApprovalWaits) {
  for (auto& t : spec_.authority.tools)
    t.approval_remind_after_s = t.approval_expire_after_s = std::nullopt;
  auto p = Policy::from_spec(spec_);
  ASSERT_TRUE(p.ok());
  policy_ = std::move(*p);
  auto r = runner();
  ASSERT_EQ(r.start("CASE-2", "case-resolution", {{"case_id", "CASE-2"}}, "agent")->state,
            CaseState::waiting_approval);
  clock_.advance_ns(365 * 86400 * kSecond);
  auto swept = r.sweep_approvals();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->reminded + swept->expired, 0);
  EXPECT_EQ(journal_->get_case("CASE-2")->state, CaseState::waiting_approval);
}

}  // namespace
}  // namespace keel::agent
