// The durable journal of agent cases: every case is a workflow instance, every step leaves an
// intent record before any side effect and an outcome record after it, and a case's state is
// rebuilt by replaying its records. Two stores implement this interface: SQLite (the embedded
// default, WAL + synchronous=FULL) and PostgreSQL (several workers, leases claimed with
// FOR UPDATE SKIP LOCKED); one shared test suite runs against both.
//
// Contract:
// - append() is atomic: all of its records (and the new case state) are durable together, or
//   none is. It succeeds only if the case's last record is `expected_last_seq`, so two workers
//   can never interleave records of one case (the loser gets `aborted`).
// - Leases: a worker holds a case while it runs it. claim() hands out a runnable case whose
//   lease is free or expired (another worker died); acquire() takes a named case. A lease is
//   a promise about time, so a worker renews it while it works and checks append() results.
//   Lease expiry, updated_ns and record times are read from the clock the store was opened
//   with (wall time of the system clock unless a test passes a ManualClock).
// - A store that cannot be reached answers `unavailable`; the caller pauses and retries, and
//   nothing acknowledged is lost.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/result.h"

namespace keel::agent {

enum class CaseState { running, waiting_approval, completed, failed };
std::string_view case_state_name(CaseState s);
std::optional<CaseState> case_state_from_name(std::string_view name);

struct CaseInfo {
  std::string id;
  std::string workflow;   //!< workflow definition name
  int version = 1;        //!< the definition version the case is pinned to
  CaseState state = CaseState::running;
  nlohmann::json input = nlohmann::json::object();
  std::string principal;  //!< who the case acts for
  int64_t created_ns = 0;  //!< wall clock, ns since the epoch
  int64_t updated_ns = 0;
  std::string lease_owner;  //!< "" when free
  int64_t lease_until_ns = 0;
};

//! Record kinds, in the order a step writes them.
namespace record {
inline constexpr std::string_view case_started = "case_started";
inline constexpr std::string_view policy_decision = "policy_decision";
inline constexpr std::string_view approval_requested = "approval_requested";
inline constexpr std::string_view approval_reminded = "approval_reminded";
inline constexpr std::string_view approval_granted = "approval_granted";
inline constexpr std::string_view approval_denied = "approval_denied";
inline constexpr std::string_view intent = "intent";
inline constexpr std::string_view attempt_failed = "attempt_failed";
inline constexpr std::string_view outcome_check = "outcome_check";
inline constexpr std::string_view outcome = "outcome";
inline constexpr std::string_view resumed = "resumed";
inline constexpr std::string_view case_completed = "case_completed";
inline constexpr std::string_view case_failed = "case_failed";
}  // namespace record

struct JournalRecord {
  int64_t seq = 0;    //!< 1, 2, 3 ... per case
  std::string kind;
  int64_t step = -1;  //!< the workflow step it belongs to; -1 for case-level records
  nlohmann::json data = nlohmann::json::object();
  int64_t at_ns = 0;  //!< wall clock when written
};

class JournalStore {
 public:
  virtual ~JournalStore() = default;
  //! Where the journal lives, for messages ("sqlite:/path", "postgresql:...").
  virtual std::string describe() const = 0;

  //! Creates a case with its first record; already_exists if the id is taken.
  [[nodiscard]] virtual Status create_case(const CaseInfo& info, const JournalRecord& first) = 0;
  [[nodiscard]] virtual Result<CaseInfo> get_case(const std::string& id) = 0;
  //! Cases, newest first; with `state`, only those in it.
  [[nodiscard]] virtual Result<std::vector<CaseInfo>> list_cases(std::optional<CaseState> state) = 0;
  [[nodiscard]] virtual Result<std::vector<JournalRecord>> read(const std::string& case_id) = 0;
  //! Appends records with seq expected_last_seq+1, +2, ...; sets the state when given.
  [[nodiscard]] virtual Status append(const std::string& case_id, int64_t expected_last_seq,
                                      const std::vector<JournalRecord>& records,
                                      std::optional<CaseState> new_state) = 0;

  //! Takes a runnable case (state running) whose lease is free or expired; nullopt if none.
  [[nodiscard]] virtual Result<std::optional<std::string>> claim(const std::string& owner, double lease_s) = 0;
  //! Takes this case's lease; failed_precondition while another owner holds it.
  [[nodiscard]] virtual Status acquire(const std::string& case_id, const std::string& owner, double lease_s) = 0;
  //! Takes the lease from `from_owner` whatever its expiry (the caller knows that worker is
  //! dead, e.g. a process of this host that no longer exists); aborted if someone else holds it.
  [[nodiscard]] virtual Status take_over(const std::string& case_id, const std::string& from_owner, const std::string& owner,
                                         double lease_s) = 0;
  [[nodiscard]] virtual Status renew(const std::string& case_id, const std::string& owner, double lease_s) = 0;
  [[nodiscard]] virtual Status release(const std::string& case_id, const std::string& owner) = 0;
};

//! Opens a journal from a location: a SQLite file path, or a "postgresql://" / "postgres://"
//! connection URI (or "host=... dbname=..." keyword string prefixed with "postgresql:").
//! `clock` (its unix_now_ns()) times leases and records; it must outlive the store.
[[nodiscard]] Result<std::unique_ptr<JournalStore>> open_journal(
    const std::string& location, const Clock& clock = system_clock());

//! Wall clock in ns since the epoch.
int64_t wall_now_ns();

}  // namespace keel::agent
