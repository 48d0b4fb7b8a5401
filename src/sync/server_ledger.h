// The private cloud's record store for field sync, on PostgreSQL: the records (each with a
// version), the ledger of every mutation applied (by device and sequence number), and the change
// log devices pull from.
//
// Contract:
// - install() creates the tables (idempotent).
// - apply() takes one mutation in its own transaction, holding the record's row lock: a mutation
//   id already in the ledger is a no-op answered "duplicate" with the version it made and the
//   fields at that version, as its first answer said (a retried push changes nothing); a base_version other than the record's version is "conflict" (nothing
//   written: the device pulls, rebases and sends again under the same id); otherwise the fields
//   are set, the version goes up by one, and the ledger row and the change row are written with
//   it ("applied"). At most once per id, whatever the retries, restarts or concurrent pushes.
//   An id already applied to another record is already_exists (a device id used again by a new
//   store), never "duplicate". Change rows get their cursor in commit order.
// - pull() returns the changes after a cursor, in order, at most `limit`, with each change's
//   mutation id so a device recognises its own.
// - A database that cannot be reached is unavailable; nothing is half-applied.
// - Not thread-safe: one ledger per thread (its own connection).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/pg_client.h"
#include "core/result.h"
#include "sync/mutation.h"

namespace keel::sync {

struct Change {
  int64_t cursor = 0;
  std::string collection, record;
  int64_t version = 0;
  Json fields = Json::object();
  std::string mutation_id;
  Json to_json() const;
};
[[nodiscard]] Result<Change> parse_change(const Json& j);

struct LedgerCounts {
  int64_t applied = 0;  //!< ledger rows
  int64_t records = 0;
};

class ServerLedger {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ServerLedger>> connect(const std::string& conninfo);
  [[nodiscard]] Status install();
  [[nodiscard]] Result<MutationOutcome> apply(const Mutation& m);
  [[nodiscard]] Result<std::vector<Change>> pull(int64_t after, int64_t limit);
  //! The sequence numbers the ledger holds for a device, ascending (tests, evaluation).
  [[nodiscard]] Result<std::vector<int64_t>> applied_seqs(const std::string& device);
  [[nodiscard]] Result<LedgerCounts> counts();

 private:
  explicit ServerLedger(std::unique_ptr<PgClient> db) : db_(std::move(db)) {}
  [[nodiscard]] Result<MutationOutcome> apply_once(const Mutation& m);
  std::unique_ptr<PgClient> db_;
};

}  // namespace keel::sync
