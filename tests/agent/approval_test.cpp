// Approvals people can trust: the runner records a decision only when the principal is proven
// (a signature under its registered key, an authenticated channel, or unsigned where the spec
// consents) and holds a role that may approve the tool; the record says who, when, how, over
// which arguments and what they were shown. Every refusal below is checked to leave the journal
// untouched. Real journal, order system and memory store; a scripted model; a ManualClock.
#include "agent/approval.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "agent/case_runner.h"
#include "contract/spec_parser.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "example_deployment_fixture.h"
#include "support/approvals.h"
#include "support/test_support.h"

namespace keel::agent {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

ApproverKey key_for(const std::string& principal, uint8_t seed_byte) {
  std::array<uint8_t, 32> seed{};
  seed.fill(seed_byte);
  return ApproverKey{principal, ed25519_from_seed(seed), false};
}

// The example spec, plus `manager` (approver, registered key) and `lead` (approver, no key).
std::string example_with_more_approvers(const ApproverKey& manager) {
  std::string yaml =
      keel::testing::read_file(keel::testing::source_dir() + "/examples/durable-agent.yaml");
  const std::string anchor = "  tools:\n";
  size_t at = yaml.find(anchor);
  EXPECT_NE(at, std::string::npos);
  yaml.insert(at, "    - {id: manager, roles: [approver], public_key: \"" +
                      contract::format_public_key(manager.keys.public_key) +
                      "\"}\n    - {id: lead, roles: [approver, finance]}\n");
  return yaml;
}

class Approvals : public ExampleDeploymentTest {
 protected:
  void SetUp() override { open(example_with_more_approvers(manager_)); }

  //! The deployment under the spec `yaml`: opened on the first call, kept (with its journal)
  //! by later ones, which change only the spec and the policy.
  void open(const std::string& yaml) {
    ASSERT_NO_FATAL_FAILURE(parse_spec(yaml));
    ASSERT_NO_FATAL_FAILURE(make_policy());
    if (!journal_) {
      ASSERT_NO_FATAL_FAILURE(open_deployment());
    }
    runner_ = std::make_unique<CaseRunner>(*journal_, tools_, policy_, workflows_, &model_,
                                           RunnerOptions{.worker_id = "w", .clock = &clock_});
  }

  //! Starts CASE-2 (a refund of 240 > 100) and returns its pending request.
  PendingApproval waiting() {
    auto out = runner_->start("CASE-2", "case-resolution", {{"case_id", "CASE-2"}}, "agent");
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(out->state, CaseState::waiting_approval);
    auto p = runner_->pending_request("CASE-2", out->pending_step);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? *p : PendingApproval{};
  }
  int64_t record_count() {
    auto all = journal_->read("CASE-2");
    EXPECT_TRUE(all.ok());
    return all.ok() ? static_cast<int64_t>(all->size()) : -1;
  }
  //! Refused with `code`, a message containing `words`, and nothing journaled.
  void expect_refused(const ApprovalSubmission& s, StatusCode code, const std::string& words) {
    const int64_t before = record_count();
    Status st = runner_->decide(s);
    EXPECT_EQ(st.code(), code) << st.to_string();
    EXPECT_NE(st.message().find(words), std::string::npos) << st.message();
    EXPECT_EQ(record_count(), before) << "a refused decision wrote to the journal";
    EXPECT_EQ(journal_->get_case("CASE-2")->state, CaseState::waiting_approval);
  }
  int64_t now() const { return clock_.unix_now_ns(); }

  ApproverKey supervisor_ = keel::testing::demo_supervisor_key();
  ApproverKey manager_ = key_for("manager", 7);
  std::unique_ptr<CaseRunner> runner_;
};

TEST(ApprovalStatement, TheSignedBytesBindEveryField) {
  ApprovalStatement base{"CASE-2", 6,   "issue_refund", std::string(64, 'a'), true, "supervisor",
                         42,       "ok"};
  const ApproverKey key = key_for("supervisor", 1);
  ApprovalSubmission signed_base = sign_approval(base, key.keys.secret_key, "test");
  ASSERT_TRUE(ed25519_verify(base.canonical(), *signed_base.signature, key.keys.public_key).ok());
  EXPECT_EQ(base.canonical().rfind(std::string(kApprovalStatementTag) + "\n", 0), 0u);
  std::vector<ApprovalStatement> changed(8, base);
  changed[0].case_id = "CASE-3";
  changed[1].step = 7;
  changed[2].tool = "set_case_status";
  changed[3].args_sha256 = std::string(64, 'b');
  changed[4].approve = false;
  changed[5].principal = "manager";
  changed[6].time_ns = 43;
  changed[7].note = "ok!";
  for (const auto& c : changed) {
    EXPECT_NE(c.canonical(), base.canonical());
    EXPECT_FALSE(ed25519_verify(c.canonical(), *signed_base.signature, key.keys.public_key).ok())
        << c.canonical();
  }
  // Fields cannot run into each other: a newline or quote in one is escaped, not structure.
  ApprovalStatement tricky = base;
  tricky.case_id = "CASE-2\",\"step\":7";
  EXPECT_NE(tricky.canonical(), base.canonical());
  EXPECT_NE(tricky.canonical().find("\\\""), std::string::npos) << tricky.canonical();
}

TEST_F(Approvals, ASignedApprovalIsRecordedWithWhoWhenHowAndWhatWasShown) {
  PendingApproval p = waiting();
  clock_.advance_ns(90 * kSecond);
  const int64_t decided = now();
  ASSERT_TRUE(
      runner_
          ->decide(keel::testing::signed_decision(p, true, decided, supervisor_, "receipt checked"))
          .ok());
  auto all = journal_->read("CASE-2");
  ASSERT_TRUE(all.ok());
  const JournalRecord* grant = nullptr;
  for (const auto& r : *all) {
    if (r.kind == record::approval_granted) grant = &r;
  }
  ASSERT_NE(grant, nullptr);
  const Json& d = grant->data;
  EXPECT_EQ(d["by"], "supervisor");
  EXPECT_EQ(d["decided_at_ns"], decided);
  EXPECT_EQ(d["args_sha256"], p.args_sha256);
  EXPECT_EQ(d["authentication"], "ed25519-signature");
  EXPECT_EQ(d["public_key"], contract::format_public_key(supervisor_.keys.public_key));
  EXPECT_EQ(d["note"], "receipt checked");
  EXPECT_EQ(d["shown"]["args"], p.args);
  EXPECT_EQ(d["shown"]["why"], p.reason);
  EXPECT_EQ(d["shown"]["evidence"], p.evidence);
  EXPECT_TRUE(verify_recorded_signature(d).ok());
  // The journaled statement is what was signed: altering it afterwards is detectable.
  Json altered = d;
  altered["statement"] = altered["statement"].get<std::string>() + " ";
  EXPECT_EQ(verify_recorded_signature(altered).code(), StatusCode::permission_denied);
  Json other_key = d;
  other_key["public_key"] = contract::format_public_key(manager_.keys.public_key);
  EXPECT_EQ(verify_recorded_signature(other_key).code(), StatusCode::permission_denied);
  // The case goes on and the refund happens once.
  auto done = runner_->resume("CASE-2");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, CaseState::completed) << done->message;
  EXPECT_EQ(sor_->ledger_for_case("CASE-2")->refunds, 1);
}

TEST_F(Approvals, AnUnsignedApprovalIsRefusedWhenThePrincipalHasAKey) {
  PendingApproval p = waiting();
  ApprovalSubmission unsigned_one;
  unsigned_one.statement = keel::testing::decision_on(p, "supervisor", true, now());
  expect_refused(unsigned_one, StatusCode::permission_denied, "must be signed");
  // Claiming a signature without one is no better.
  unsigned_one.authentication = ApproverAuthentication::signature;
  const int64_t before = record_count();
  EXPECT_FALSE(runner_->decide(unsigned_one).ok());
  EXPECT_EQ(record_count(), before);
}

TEST_F(Approvals, ASignatureMadeWithAnotherKeyIsRefused) {
  PendingApproval p = waiting();
  // A fresh key that claims to be the supervisor's.
  ApproverKey rogue = key_for("supervisor", 9);
  expect_refused(keel::testing::signed_decision(p, true, now(), rogue),
                 StatusCode::permission_denied, "does not verify");
  // Another approver's registered key, used in the supervisor's name.
  ApproverKey borrowed = manager_;
  borrowed.principal = "supervisor";
  expect_refused(keel::testing::signed_decision(p, true, now(), borrowed),
                 StatusCode::permission_denied, "does not verify");
  // The same key in its own name is fine: the manager may approve.
  ASSERT_TRUE(runner_->decide(keel::testing::signed_decision(p, true, now(), manager_)).ok());
}

TEST_F(Approvals, ASignatureOverOtherValuesIsRefused) {
  PendingApproval p = waiting();
  // Signed as a denial, submitted as an approval.
  ApprovalSubmission flipped = keel::testing::signed_decision(p, false, now(), supervisor_);
  flipped.statement.approve = true;
  expect_refused(flipped, StatusCode::permission_denied, "does not verify");
  // Signed with a note, submitted with another.
  ApprovalSubmission renoted =
      keel::testing::signed_decision(p, true, now(), supervisor_, "only 100");
  renoted.statement.note = "all of it";
  expect_refused(renoted, StatusCode::permission_denied, "does not verify");
  // Signed for another time.
  ApprovalSubmission redated = keel::testing::signed_decision(p, true, now(), supervisor_);
  redated.statement.time_ns += 1;
  expect_refused(redated, StatusCode::permission_denied, "does not verify");
  // One bit of the signature flipped.
  ApprovalSubmission damaged = keel::testing::signed_decision(p, true, now(), supervisor_);
  (*damaged.signature)[10] ^= 0x01;
  expect_refused(damaged, StatusCode::permission_denied, "does not verify");
  // A statement about another tool than the one pending.
  ApprovalStatement other_tool = keel::testing::decision_on(p, "supervisor", true, now());
  other_tool.tool = "set_case_status";
  expect_refused(sign_approval(other_tool, supervisor_.keys.secret_key, "test"),
                 StatusCode::failed_precondition, "names tool set_case_status");
}

TEST_F(Approvals, TheArgumentsHashIsRequiredAndMustBeTheRequests) {
  PendingApproval p = waiting();
  PendingApproval no_hash = p;
  no_hash.args_sha256.clear();
  expect_refused(keel::testing::signed_decision(no_hash, true, now(), supervisor_),
                 StatusCode::invalid_argument, "SHA-256 of the arguments you reviewed");
  PendingApproval other = p;
  other.args_sha256 = sha256_hex("{\"amount\":24000}");
  expect_refused(keel::testing::signed_decision(other, true, now(), supervisor_),
                 StatusCode::failed_precondition, "not the ones you reviewed");
  // A denial needs no hash.
  ASSERT_TRUE(
      runner_->decide(keel::testing::signed_decision(no_hash, false, now(), supervisor_, "no"))
          .ok());
}

TEST_F(Approvals, APrincipalWithoutAnApprovingRoleIsRefused) {
  PendingApproval p = waiting();
  // `agent` holds no approving role; signing (with any key) does not change that.
  expect_refused(keel::testing::signed_decision(p, true, now(), key_for("agent", 3)),
                 StatusCode::permission_denied,
                 "does not hold a role that may approve issue_refund");
  ApprovalSubmission over_channel;
  over_channel.statement = keel::testing::decision_on(p, "agent", true, now());
  over_channel.authentication = ApproverAuthentication::bearer_token;
  expect_refused(over_channel, StatusCode::permission_denied, "does not hold a role");
  over_channel.statement.principal = "nobody";
  expect_refused(over_channel, StatusCode::permission_denied, "not a principal");
}

TEST_F(Approvals, AToolsApproverRolesDecideWhoMayApproveIt) {
  std::string yaml = example_with_more_approvers(manager_);
  const std::string from = "condition: \"args.amount > 100\", roles: [support-agent],";
  size_t at = yaml.find(from);
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, from.size(), from + " approver_roles: [finance],");
  yaml.insert(yaml.find("  system_of_record:"), "  unsigned_approvals: allowed\n");
  open(yaml);
  PendingApproval p = waiting();
  // The supervisor is an approver, but refunds now need the finance role.
  expect_refused(keel::testing::signed_decision(p, true, now(), supervisor_),
                 StatusCode::permission_denied,
                 "does not hold a role that may approve issue_refund (finance)");
  ApprovalSubmission lead;
  lead.statement = keel::testing::decision_on(p, "lead", true, now());
  ASSERT_TRUE(runner_->decide(lead).ok());
}

TEST_F(Approvals, AnOldOrPostDatedSignatureCannotAnswerARequest) {
  clock_.advance_ns(3600 * kSecond);
  PendingApproval p = waiting();
  // Signed before the request existed (a signature kept from an earlier request).
  expect_refused(
      keel::testing::signed_decision(p, true, now() - kApprovalClockSkewNs - kSecond, supervisor_),
      StatusCode::permission_denied, "outside the request's lifetime");
  expect_refused(
      keel::testing::signed_decision(p, true, now() + kApprovalClockSkewNs + kSecond, supervisor_),
      StatusCode::permission_denied, "outside the request's lifetime");
  // Within the skew either way is fine.
  ASSERT_TRUE(
      runner_->decide(keel::testing::signed_decision(p, true, now() + kSecond, supervisor_)).ok());
}

TEST_F(Approvals, WithoutAKeyAnUnsignedApprovalNeedsTheSpecsConsent) {
  PendingApproval p = waiting();
  ApprovalSubmission lead;
  lead.statement = keel::testing::decision_on(p, "lead", true, now());
  expect_refused(lead, StatusCode::permission_denied, "refuses unsigned approvals");
  // A signature in the name of a principal without a registered key proves nothing.
  expect_refused(keel::testing::signed_decision(p, true, now(), key_for("lead", 5)),
                 StatusCode::permission_denied, "has no public_key");
  std::string yaml = example_with_more_approvers(manager_);
  yaml.insert(yaml.find("  system_of_record:"), "  unsigned_approvals: allowed\n");
  open(yaml);
  // Consent covers principals without a key only.
  ApprovalSubmission supervisor_unsigned;
  supervisor_unsigned.statement = keel::testing::decision_on(p, "supervisor", true, now());
  expect_refused(supervisor_unsigned, StatusCode::permission_denied, "must be signed");
  ASSERT_TRUE(runner_->decide(lead).ok());
  auto all = journal_->read("CASE-2");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->back().kind, record::approval_granted);
  EXPECT_EQ(all->back().data["authentication"], "unsigned");
  EXPECT_EQ(all->back().data["by"], "lead");
  EXPECT_FALSE(all->back().data.contains("signature"));
}

TEST_F(Approvals, AnAuthenticatedChannelStandsInForTheSignature) {
  PendingApproval p = waiting();
  ApprovalSubmission over_mcp;
  over_mcp.statement = keel::testing::decision_on(p, "supervisor", true, 0);
  over_mcp.authentication = ApproverAuthentication::bearer_token;
  over_mcp.channel = "mcp";
  ASSERT_TRUE(runner_->decide(over_mcp).ok());
  auto all = journal_->read("CASE-2");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->back().data["authentication"], "bearer-token");
  EXPECT_EQ(all->back().data["channel"], "mcp");
  EXPECT_EQ(all->back().data["decided_at_ns"], now())
      << "the runner dates a decision that carries no time";
}

TEST(ApproverKeyFile, RoundTripsIsPrivateAndNeverOverwritten) {
  keel::testing::TempDir dir;
  ApproverKey key = key_for("supervisor", 11);
  const std::string path = dir.file("supervisor.key");
  ASSERT_TRUE(write_approver_key(path, key).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = read_approver_key(path);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(read->principal, "supervisor");
  EXPECT_EQ(read->keys.public_key, key.keys.public_key);
  EXPECT_EQ(read->keys.secret_key, key.keys.secret_key);
  EXPECT_FALSE(read->demo_only);
  EXPECT_EQ(write_approver_key(path, key_for("supervisor", 12)).code(), StatusCode::already_exists);
  EXPECT_EQ(read_approver_key(path)->keys.public_key, key.keys.public_key)
      << "the first key is still there";
  // A public key that its seed does not make: the file was altered.
  auto j = parse_json(keel::testing::read_file(path));
  ASSERT_TRUE(j.ok());
  (*j)["public_key"] = contract::format_public_key(key_for("x", 13).keys.public_key);
  keel::testing::write_file(dir.file("altered.key"), dump_json(*j));
  auto altered = read_approver_key(dir.file("altered.key"));
  EXPECT_EQ(altered.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(altered.status().message().find("altered"), std::string::npos)
      << altered.status().message();
  keel::testing::write_file(dir.file("junk.key"), "not json");
  EXPECT_EQ(read_approver_key(dir.file("junk.key")).status().code(), StatusCode::invalid_argument);
  // The committed demo key says what it is.
  EXPECT_TRUE(keel::testing::demo_supervisor_key().demo_only);
}

}  // namespace
}  // namespace keel::agent
