// The case runner: starts, resumes and decides cases. It replays a case's journal, runs its
// workflow (steps with outcomes return their recorded results), and executes new steps
// through the same path every time:
//
//   policy decision (journaled, forbid wins, default deny)
//   -> approval gate (journaled request; the case suspends until approve/deny; an approval
//      binds to the SHA-256 of the arguments shown and is refused if they differ)
//   -> input schema check (invalid arguments never reach the tool)
//   -> intent record (durable before the side effect; carries the idempotency key)
//   -> the call, retried for transient errors; an unknown outcome (timeout, or a crash after
//      the intent) is resolved by the tool's authoritative outcome check first, and the write
//      is only retried when the system of record says it did not happen
//   -> output schema check -> outcome record.
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

#include "agent/journal.h"
#include "agent/model_client.h"
#include "agent/policy.h"
#include "agent/tool.h"
#include "agent/workflow.h"
#include "core/result.h"

namespace keel::agent {

struct RunnerOptions {
  std::string worker_id;   //!< lease owner; default host:pid
  double lease_s = 60;
  int64_t max_new_steps = -1;  //!< pause after executing this many new steps (-1: no limit)
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

  //! Journals an approval of a pending step. `shown_args_sha256`, when given, must match the
  //! arguments the request holds (the reviewer approves what they saw).
  [[nodiscard]] Status approve(const std::string& case_id, int64_t step, const std::string& approver,
                               const std::optional<std::string>& shown_args_sha256, const std::string& note = "");
  [[nodiscard]] Status deny(const std::string& case_id, int64_t step, const std::string& approver, const std::string& reason);
  [[nodiscard]] Result<std::vector<PendingApproval>> pending();

 private:
  [[nodiscard]] Result<RunOutcome> run_leased(const std::string& case_id);
  [[nodiscard]] Status decide(const std::string& case_id, int64_t step, const std::string& approver, bool approved,
                              const std::optional<std::string>& shown_args_sha256, const std::string& note);

  JournalStore& journal_;
  const ToolRegistry& tools_;
  const Policy& policy_;
  const WorkflowRegistry& workflows_;
  ModelClient* model_;
  RunnerOptions options_;
};

}  // namespace keel::agent
