// The sample system of record of the durable-agent example (provider `sample-order-system`): an
// order system in its own SQLite database (customers, orders, support cases, refunds, case notes, status changes)
// and the tools a case uses on it. It stands in for a business system Keel does not own: its
// ledger table records every effect it applies, and tests count actions from that ledger, not
// from Keel's journal.
//
// Modes (rows of its `config` table, as an operator of the real system would set them):
// - dedupe_by_idempotency_key = 1: a repeated key returns the first response and applies
//   nothing (counted in `dedupe_hits`); = 0: every call takes effect, as in systems without
//   idempotency support. The agent must get exactly-once in both.
// - transient_failures = N: the next N calls fail with `unavailable` before doing anything.
// - timeouts_after_commit = N: the next N writes commit and then report a timeout (the
//   caller cannot know whether they happened).
//
// Every write records its idempotency key next to its effect, which is what the outcome
// checks look up, in either mode.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/catalog.h"
#include "agent/tool.h"
#include "core/result.h"

namespace keel {
class Database;
}

namespace keel::samples {

class OrderSystem : public agent::SystemOfRecord {
 public:
  //! Opens the sample's database at `path`, creating and seeding it when the file is new or
  //! empty. A database the sample did not create (other tables, no sample mark) is refused
  //! (failed_precondition): the sample never writes its schema into someone else's data.
  [[nodiscard]] static Result<std::shared_ptr<OrderSystem>> open(const std::string& path);
  ~OrderSystem() override;

  //! lookup_order, check_refund_policy, get_case, issue_refund, set_case_status, add_case_note.
  std::vector<std::shared_ptr<agent::Tool>> tools() override;

  struct LedgerCounts {
    int64_t refunds = 0, status_changes = 0, notes = 0, dedupe_hits = 0;
  };
  //! Effects applied for one support case, counted from the ledger.
  [[nodiscard]] Result<LedgerCounts> ledger_for_case(const std::string& case_id);
  [[nodiscard]] Status set_config(const std::string& key, int64_t value);
  [[nodiscard]] Result<int64_t> config(const std::string& key);

  Database& db() { return *db_; }
  const std::string& path() const { return path_; }

 private:
  OrderSystem() = default;
  std::unique_ptr<Database> db_;
  std::string path_;
};

}  // namespace keel::samples
