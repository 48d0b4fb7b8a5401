// What the journal says, without executing anything: a case's timeline (for `keel agent
// replay`), its status, and statistics over all cases (for `keel agent stats`, as JSON and as
// Prometheus text).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/journal.h"
#include "core/result.h"

namespace keel::agent {

//! One entry per step: {step, kind (tool | model), tool, effect, args, idempotency_key,
//! policy {allowed, rule, reason}, approval {requested, why, args_sha256, decision, by, at,
//! decided_at, authentication, channel, signature, public_key, signature_verified (the
//! journaled statement re-checked under the journaled key), shown (what the reviewer was
//! shown: tool, args, why, evidence), note | reason}, attempts_failed,
//! outcome_checks, outcome {result | error, recovered_by_outcome_check}, tokens}, plus
//! case-level events (started, resumed, completed, failed) in "events".
nlohmann::json case_timeline(const CaseInfo& info, const std::vector<JournalRecord>& records);

//! The timeline as text, one line per record.
std::string render_timeline(const CaseInfo& info, const std::vector<JournalRecord>& records);

struct AgentStats {
  int64_t cases = 0, running = 0, waiting_approval = 0, completed = 0, failed = 0;
  double success_rate = 0;            //!< completed / (completed + failed)
  double mean_case_seconds = 0;       //!< created -> completed
  double p50_case_seconds = 0, p95_case_seconds = 0;
  std::vector<double> completed_case_seconds;  //!< created -> completed, one per completed case
  int64_t steps = 0, tool_calls = 0, model_calls = 0;
  int64_t tool_retries = 0;           //!< failed attempts that were retried or paused
  int64_t outcome_checks = 0;
  int64_t duplicates_prevented = 0;   //!< outcome checks that found the write had happened
  int64_t approvals_requested = 0, approvals_granted = 0, approvals_denied = 0;
  int64_t policy_denies = 0;
  int64_t model_prompt_tokens = 0, model_completion_tokens = 0;
  double model_seconds = 0;
  int64_t replays = 0;                //!< times a case was rebuilt from its journal to resume
};

[[nodiscard]] Result<AgentStats> compute_stats(JournalStore& journal);
nlohmann::json stats_json(const AgentStats& s);
std::string stats_prometheus(const AgentStats& s);

}  // namespace keel::agent
