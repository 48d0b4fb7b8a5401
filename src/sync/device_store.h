// The field device's own copy, in SQLite: each record as the server last said (version and
// fields), the queue of commands made on the device (mutations, in the order they were made),
// and the cursor of the server's change log. Everything a command does is durable before the
// command returns, so a killed process loses nothing and sends nothing twice.
//
// Contract:
// - open() creates the file for `device` or reopens it (a file made for another device is
//   refused: a mutation id must name the device that made it); an empty `device` reopens a
//   store as the device it was made for.
// - change() records a command: the next sequence number, the record's server version as its
//   base (and the fields' values at that version), the fields it sets. The local view
//   (record()) is the server's fields overlaid with every queued change, in order.
// - apply_changes() takes pulled changes in cursor order: newer versions replace the server
//   copy; a change made by one of this device's queued mutations acknowledges it (a push whose
//   answer was lost: it is not sent again), and the count of those is returned.
// - reconcile() rebases every queued mutation whose record moved on (conflict_rules.h); one
//   held for the user stays held until resolve().
// - sendable() is what to push now: per record, its first queued mutation, if not held (a later
//   one of the same record waits for it: each is made on the one before).
// - acknowledge() takes the server's outcome: applied or duplicate removes the mutation and
//   moves every later mutation of the record onto the version it made (each was made on the
//   device's view, which held this one); conflict leaves it queued (the next pull and reconcile
//   rebase it). A pulled change naming one of this device's queued ids for another record is
//   data_loss: the store was made again under a used device id.
// - A Database is used by one thread at a time, and so is a DeviceStore.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "sync/conflict_rules.h"
#include "sync/mutation.h"
#include "sync/server_ledger.h"

namespace keel {
class Database;
}

namespace keel::sync {

struct DeviceRecord {
  int64_t version = 0;                  //!< the server's, as last seen
  Json server_fields = Json::object();  //!< at that version
  Json fields = Json::object();         //!< the local view: with the queued changes
  int pending = 0;                      //!< queued or held mutations of it
};

struct ReconcileReport {
  int rebased = 0;       //!< mutations moved onto a newer server version
  int dropped = 0;       //!< left with nothing to change (the server's values stand)
  int held = 0;          //!< waiting for the user (an `ask` field)
  std::vector<FieldResolution> conflicts;
};

struct DeviceStatus {
  std::string device;
  int64_t queued = 0, held = 0, next_seq = 1, cursor = 0, records = 0;
};

class DeviceStore {
 public:
  [[nodiscard]] static Result<std::unique_ptr<DeviceStore>> open(const std::string& path, const std::string& device);
  ~DeviceStore();

  const std::string& device() const { return device_; }

  [[nodiscard]] Result<Mutation> change(const std::string& collection, const std::string& record, const Json& set);
  [[nodiscard]] Result<DeviceRecord> record(const std::string& collection, const std::string& record);
  [[nodiscard]] Result<std::vector<Mutation>> queued();
  [[nodiscard]] Result<std::vector<Mutation>> sendable();
  [[nodiscard]] Result<int64_t> cursor();
  [[nodiscard]] Result<int64_t> apply_changes(const std::vector<Change>& changes);
  [[nodiscard]] Result<ReconcileReport> reconcile(const SyncRules& rules);
  [[nodiscard]] Status acknowledge(const Mutation& sent, const MutationOutcome& outcome);
  //! A held mutation's fate, decided by the user: keep the device's values (rebased onto the
  //! server's version) or drop them.
  [[nodiscard]] Status resolve(int64_t seq, bool keep_device_values);
  [[nodiscard]] Result<DeviceStatus> status();
  //! Running totals of what syncs did (e.g. "conflicts_resolved", "duplicates_prevented"),
  //! for the device's metrics: add_totals() adds to them in one transaction.
  [[nodiscard]] Status add_totals(const std::map<std::string, int64_t>& amounts);
  [[nodiscard]] Result<std::map<std::string, int64_t>> totals();

 private:
  DeviceStore() = default;
  [[nodiscard]] Status acknowledged(const std::string& collection, const std::string& record, int64_t seq,
                                    int64_t version, const Json& fields);
  [[nodiscard]] Status store_server_copy(const std::string& collection, const std::string& record, int64_t version,
                                         const Json& fields);
  std::unique_ptr<Database> db_;
  std::string device_;
};

}  // namespace keel::sync
