// The case runner: starts, resumes and decides cases. It replays a case's journal, runs its
// workflow (steps with outcomes return their recorded results), and executes new steps
// through the same path every time:
//
//   policy decision (journaled, forbid wins, default deny)
//   -> approval gate (journaled request; the case suspends until approve/deny; an approval
//      binds to the SHA-256 of the arguments shown and is refused if they differ; who decided
//      is proven by a signature or an authenticated channel, see decide())
//   -> input schema check (invalid arguments never reach the tool)
//   -> intent record (durable before the side effect; carries the idempotency key)
//   -> the call, retried for transient errors; an unknown outcome (timeout, or a crash after
//      the intent) is resolved by the tool's authoritative outcome check first, and the write
//      is only retried when the system of record says it did not happen
//   -> output schema check -> outcome record.
//
// Approval deadlines: a request records when to remind reviewers and when it expires (the tool's
// approval_remind_after_s / approval_expire_after_s, on the runner's clock). sweep_approvals()
// journals a reminder once past the first and, past the second, denies the request as expired
// (the case runs on and the action never executes); work() sweeps before claiming cases.
//
// Disk full: a journal write that fails for lack of space (resource_exhausted, naming the file)
// stops the run with that error; the case is not marked failed, and a resume after space is
// freed replays the journal and continues (an effect already made is found by its outcome check).
//
// Fault injection for tests: KEEL_AGENT_FAULT="kill:<point>:<step>" makes the process SIGKILL
// itself at a point of a step (before-intent, after-intent, after-effect, after-outcome), so a
// test can crash a worker anywhere and prove the case still completes exactly once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/approval.h"
#include "agent/journal.h"
#include "agent/model_client.h"
#include "agent/policy.h"
#include "agent/tool.h"
#include "agent/workflow.h"
#include "core/clock.h"
#include "core/result.h"

namespace keel::agent {

//! How far a signed decision's time may lie before its request or after the runner's now.
inline constexpr int64_t kApprovalClockSkewNs = 300'000'000'000;

struct RunnerOptions {
  std::string worker_id;   //!< lease owner; default host:pid
  double lease_s = 60;
  int64_t max_new_steps = -1;  //!< pause after executing this many new steps (-1: no limit)
  const Clock* clock =
      nullptr;  //!< approval deadlines and retry backoff run on it; null: system_clock()
};

struct RunOutcome {
  CaseState state = CaseState::running;
  bool paused = false;       //!< still running, but stopped (a dependency is down, or a step limit)
  std::string message;       //!< why it stopped, in words
  nlohmann::json result;     //!< the workflow's result when completed
  int64_t new_steps = 0;     //!< steps executed by this run
  int64_t replayed_steps = 0;  //!< steps answered from the journal
  int64_t pending_step = -1;   //!< the step waiting for approval
};

struct PendingApproval {
  std::string case_id;
  int64_t step = 0;
  std::string tool;
  nlohmann::json args;
  std::string args_sha256;
  std::string reason;      //!< why approval is needed
  nlohmann::json evidence; //!< {"reason": ..., "context": [...]}
  int64_t requested_ns = 0;
  int64_t remind_at_ns = 0;   //!< runner clock, unix ns; 0: no reminder deadline
  int64_t expires_at_ns = 0;  //!< runner clock, unix ns; 0: never expires
  bool reminded = false;
};

//! What sweep_approvals() did.
struct ApprovalSweep {
  int64_t reminded = 0;
  int64_t expired = 0;
  std::vector<std::string> events;  //!< one line each: "case C step N: ..."
};

class CaseRunner {
 public:
  CaseRunner(JournalStore& journal, const ToolRegistry& tools, const Policy& policy, const WorkflowRegistry& workflows,
             ModelClient* model, RunnerOptions options = {});

  //! Creates the case (pinned to the workflow's latest version) and runs it.
  [[nodiscard]] Result<RunOutcome> start(const std::string& case_id, const std::string& workflow, const nlohmann::json& input,
                                         const std::string& principal);
  //! Runs a case from its journal until it completes, fails, waits or pauses.
  [[nodiscard]] Result<RunOutcome> resume(const std::string& case_id);
  //! Claims and runs runnable cases until none is left; returns how many were run.
  [[nodiscard]] Result<int64_t> work(int64_t max_cases = -1);

  //! Journals a decision on a pending step once it is proven (agent/approval.h), and nothing
  //! before that:
  //! - the principal is declared and holds one of the tool's approving roles, and did not start
  //!   the case (permission_denied otherwise: exit 2 on the command line);
  //! - it authenticated as the submission says: a signature that verifies under its registered
  //!   key, an authenticated channel, or unsigned where the spec allows it (permission_denied);
  //! - the statement names this case, step and tool; an approval carries the SHA-256 of the
  //!   arguments reviewed (invalid_argument when missing) and it must be the request's
  //!   (failed_precondition: review again); a signed statement is dated between the request
  //!   (less kApprovalClockSkewNs) and now (plus it) on the runner's clock, so an old signature
  //!   cannot answer a new request.
  //! The record holds who, when, how they were authenticated (with the signature and the
  //! signed statement), the arguments' hash and the evidence the request showed.
  [[nodiscard]] Status decide(const ApprovalSubmission& submission);
  [[nodiscard]] Result<std::vector<PendingApproval>> pending();
  //! The undecided request of one step; not_found when there is none.
  [[nodiscard]] Result<PendingApproval> pending_request(const std::string& case_id, int64_t step);
  //! Reminds and expires pending approvals whose deadlines have passed on the runner's clock.
  [[nodiscard]] Result<ApprovalSweep> sweep_approvals();

 private:
  [[nodiscard]] Result<RunOutcome> run_leased(const std::string& case_id);

  const Clock& clock() const { return options_.clock ? *options_.clock : system_clock(); }

  JournalStore& journal_;
  const ToolRegistry& tools_;
  const Policy& policy_;
  const WorkflowRegistry& workflows_;
  ModelClient* model_;
  RunnerOptions options_;
};

}  // namespace keel::agent
