// A/B slots for a device's prepared program (scenario mobile-vision): a signed update is written
// to the inactive slot, verified there, switched to on trial, health-checked on the device's
// canary set, then committed or rolled back. Whatever kills the process, and wherever, the
// device keeps a working program: the last good one.
//
// On disk, in the slots folder: slots.json (the state, replaced atomically at each step),
// slot-a.kprog and slot-b.kprog, and updates.jsonl (one line per outcome: installed,
// rolled-back, refused, not-selected, recovered; keel_model_updates_total counts them).
//
// Contract:
// - open() creates the folder if needed and recovers from an interrupted update before it
//   returns: a slot on trial (switched to, never committed) is rolled back to the last good one
//   and counted as an interrupted attempt (the third interrupted attempt of one update rejects
//   it, so an update that kills the device cannot loop); a half-written slot is cleared; an
//   active slot whose file no longer hashes to its record is abandoned for the other good slot.
//   Each recovery is one line of `recovered` and one "recovered: ..." entry in recoveries().
// - install() refuses (nothing written) an update that check_update_applies() refuses against
//   the last good version of its model, one already rejected on this device, or the one already
//   installed; the refusal is returned as the outcome (not an error). I/O failures are errors,
//   and leave the last good program active.
// - The health check runs on the program as written in its slot; it passes when it returns a
//   report with passed = true. A failing or erroring check rolls back and rejects the update.
// - Fault injection for tests: KEEL_EDGE_UPDATE_FAULT="kill:<step>" makes the process SIGKILL
//   itself at a step of install() (kUpdateSteps), so a test can kill an update anywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "edge/program_update.h"

namespace keel::edge {

//! Where install() can be killed: mid-write of the slot, and after each step's state is saved.
inline constexpr const char* kUpdateSteps[] = {"staging", "staged", "switched", "health-checked",
                                               "committed", "rolled-back"};

struct SlotRecord {
  //! empty, staging, staged, trial, good, rejected, interrupted
  std::string state = "empty";
  std::string model_id;
  int64_t version = 0;
  std::string program_sha256;  //!< of the slot file's bytes
  std::string update_sha256;   //!< of the update manifest that put it there
  int attempts = 0;            //!< interrupted trials of this update
  std::string reason;          //!< why it was rejected or interrupted
};

struct HealthReport {
  bool passed = false;
  double accuracy = 0;
  double p50_ms = 0, p99_ms = 0;
  size_t images = 0;
  std::string reason;  //!< what failed, or a summary when it passed
};

//! Runs the candidate program (its path in the slot) against the update's terms.
using HealthCheck =
    std::function<Result<HealthReport>(const std::string& program_path, const ProgramUpdate&)>;

struct InstallOutcome {
  std::string outcome;  //!< installed, rolled-back, refused, not-selected, already-installed
  std::string slot;
  int64_t version = 0;
  std::optional<HealthReport> health;
  std::string reason;
};

class ProgramSlots {
 public:
  [[nodiscard]] static Result<ProgramSlots> open(const std::string& dir);

  [[nodiscard]] Result<InstallOutcome> install(const VerifiedUpdate& update,
                                               const DeviceIdentity& device, int64_t now_unix,
                                               const HealthCheck& health);
  //! Counts an update refused before it could be believed (its signature or program did not
  //! verify): one `refused` line naming `what`.
  [[nodiscard]] Status record_refused(const std::string& what, const std::string& reason) const;
  //! Switches to the other good slot (a user's "go back"); failed_precondition if there is none.
  [[nodiscard]] Status roll_back(const std::string& reason);

  //! The active slot's program file, or nothing before the first install.
  std::optional<std::string> active_program_path() const;
  const std::string& active() const { return active_; }
  const std::map<std::string, SlotRecord>& slots() const { return slots_; }
  //! The version of `model_id` in the last good slot (0: none).
  int64_t installed_version(const std::string& model_id) const;
  const std::vector<std::string>& recoveries() const { return recoveries_; }
  //! Outcome counts over updates.jsonl ({"installed": 2, ...}).
  [[nodiscard]] Result<std::map<std::string, int64_t>> outcome_counts() const;
  Json status_json() const;

 private:
  explicit ProgramSlots(std::string dir) : dir_(std::move(dir)) {}
  std::string slot_path(const std::string& slot) const;
  [[nodiscard]] Status load_state();
  [[nodiscard]] Status save_state() const;
  [[nodiscard]] Status record(const std::string& outcome, const Json& details) const;
  [[nodiscard]] Status recover();
  [[nodiscard]] Status write_slot(const std::string& slot, const std::string& bytes) const;
  bool slot_verifies(const std::string& slot) const;

  std::string dir_;
  std::string active_;          //!< "a", "b" or "" (nothing installed)
  std::string last_good_;       //!< the slot to return to
  std::string trial_previous_;  //!< set while active_ is on trial: where a rollback goes
  bool on_trial_ = false;
  std::map<std::string, SlotRecord> slots_;
  std::vector<std::string> rejected_;  //!< update manifest SHA-256s rejected on this device
  std::vector<std::string> recoveries_;
};

}  // namespace keel::edge
