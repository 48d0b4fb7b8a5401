#include "sync/device_store.h"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "core/sqlite_db.h"

namespace keel::sync {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  collection TEXT NOT NULL, record_id TEXT NOT NULL, version INTEGER NOT NULL, fields TEXT NOT NULL,
  PRIMARY KEY (collection, record_id));
CREATE TABLE IF NOT EXISTS queue (
  seq INTEGER PRIMARY KEY, collection TEXT NOT NULL, record_id TEXT NOT NULL, mutation TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'held')), conflicts TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS queue_by_record ON queue (collection, record_id, seq);
)sql";

Result<std::string> meta(Database& db, const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db.prepare("SELECT value FROM meta WHERE key = ?"));
  s.bind(1, key);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return Status::not_found(key);
  return s.column_text(0);
}

Status set_meta(Database& db, const std::string& key, const std::string& value) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) "
                                                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  s.bind(1, key).bind(2, value);
  return s.run();
}

Result<Mutation> mutation_of(const std::string& text) {
  KEEL_ASSIGN_OR_RETURN(Json j, parse_json(text));
  auto m = parse_mutation(j);
  if (!m.ok()) return Status::data_loss("a queued mutation is damaged: " + m.status().message());
  return m;
}

struct QueueRow {
  Mutation mutation;
  std::string state;
};

Result<std::vector<QueueRow>> queue_rows(Database& db, const std::string& where = "") {
  KEEL_ASSIGN_OR_RETURN(Statement s, db.prepare("SELECT mutation, state FROM queue " + where + " ORDER BY seq"));
  std::vector<QueueRow> out;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    KEEL_ASSIGN_OR_RETURN(Mutation m, mutation_of(s.column_text(0)));
    out.push_back({std::move(m), s.column_text(1)});
  }
  return out;
}

Status update_queued(Database& db, const Mutation& m, const std::string& state, const Json& conflicts) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db.prepare("UPDATE queue SET mutation = ?, state = ?, conflicts = ? WHERE seq = ?"));
  s.bind(1, m.to_json().dump()).bind(2, state).bind(3, conflicts.dump()).bind(4, m.seq);
  return s.run();
}

Status delete_queued(Database& db, int64_t seq) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db.prepare("DELETE FROM queue WHERE seq = ?"));
  s.bind(1, seq);
  return s.run();
}

Json conflicts_json(const std::vector<FieldResolution>& conflicts) {
  Json out = Json::array();
  for (const auto& c : conflicts)
    out.push_back({{"field", c.field}, {"rule", std::string(field_rule_name(c.rule))}, {"server", c.server},
                   {"device", c.device}, {"result", c.result}});
  return out;
}

}  // namespace

DeviceStore::~DeviceStore() = default;

Result<std::unique_ptr<DeviceStore>> DeviceStore::open(const std::string& path, const std::string& device) {
  if (!device.empty() && !is_plain_name(device))
    return Status::invalid_argument("a device id is 1 to 64 of [A-Za-z0-9._-]");
  if (device.empty() && !std::filesystem::exists(path))
    return Status::not_found(fmt::format("no device store at {}: make one by naming its device (--device)", path));
  std::unique_ptr<DeviceStore> store(new DeviceStore());
  SqliteOptions o;
  o.synchronous = "FULL";  // a command is on disk before it returns
  KEEL_ASSIGN_OR_RETURN(store->db_, Database::open(path, o));
  KEEL_RETURN_IF_ERROR(store->db_->exec(kSchema));
  auto owner = meta(*store->db_, "device");
  if (device.empty()) {
    if (!owner.ok()) return Status::invalid_argument(fmt::format("{} is a new store: name its device (--device)", path));
    store->device_ = *owner;
    return store;
  }
  if (owner.ok() && *owner != device)
    return Status::failed_precondition(
        fmt::format("{} belongs to device {}, not {}: a mutation id must name the device that made it", path, *owner, device));
  if (!owner.ok()) {
    KEEL_RETURN_IF_ERROR(set_meta(*store->db_, "device", device));
    KEEL_RETURN_IF_ERROR(set_meta(*store->db_, "next_seq", "1"));
    KEEL_RETURN_IF_ERROR(set_meta(*store->db_, "cursor", "0"));
  }
  store->device_ = device;
  return store;
}

Result<DeviceRecord> DeviceStore::record(const std::string& collection, const std::string& record) {
  DeviceRecord out;
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT version, fields FROM records WHERE collection = ? AND record_id = ?"));
  s.bind(1, collection).bind(2, record);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (row) {
    out.version = s.column_int(0);
    KEEL_ASSIGN_OR_RETURN(out.server_fields, parse_json(s.column_text(1)));
  }
  out.fields = out.server_fields;
  KEEL_ASSIGN_OR_RETURN(Statement q, db_->prepare("SELECT mutation FROM queue WHERE collection = ? AND record_id = ? ORDER BY seq"));
  q.bind(1, collection).bind(2, record);
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool more, q.step());
    if (!more) break;
    KEEL_ASSIGN_OR_RETURN(Mutation m, mutation_of(q.column_text(0)));
    for (const auto& [field, value] : m.set.items()) out.fields[field] = value;
    ++out.pending;
  }
  return out;
}

Result<Mutation> DeviceStore::change(const std::string& collection, const std::string& record_id, const Json& set) {
  KEEL_ASSIGN_OR_RETURN(Transaction t, Transaction::begin(*db_));
  KEEL_ASSIGN_OR_RETURN(std::string next, meta(*db_, "next_seq"));
  KEEL_ASSIGN_OR_RETURN(DeviceRecord current, record(collection, record_id));
  Mutation m;
  m.device = device_;
  m.seq = std::stoll(next);
  m.collection = collection;
  m.record = record_id;
  m.base_version = current.version;
  m.set = set;
  for (const auto& [field, value] : set.items())
    if (current.server_fields.contains(field)) m.base[field] = current.server_fields[field];
  // The same checks a server makes: a command the server would refuse is refused here.
  KEEL_ASSIGN_OR_RETURN(m, parse_mutation(m.to_json()));
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("INSERT INTO queue (seq, collection, record_id, mutation, state) "
                                                  "VALUES (?, ?, ?, ?, 'queued')"));
  s.bind(1, m.seq).bind(2, collection).bind(3, record_id).bind(4, m.to_json().dump());
  KEEL_RETURN_IF_ERROR(s.run());
  KEEL_RETURN_IF_ERROR(set_meta(*db_, "next_seq", std::to_string(m.seq + 1)));
  KEEL_RETURN_IF_ERROR(t.commit());
  return m;
}

Result<std::vector<Mutation>> DeviceStore::queued() {
  KEEL_ASSIGN_OR_RETURN(auto rows, queue_rows(*db_));
  std::vector<Mutation> out;
  for (auto& r : rows) out.push_back(std::move(r.mutation));
  return out;
}

Result<std::vector<Mutation>> DeviceStore::sendable() {
  KEEL_ASSIGN_OR_RETURN(auto rows, queue_rows(*db_));
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Mutation> out;
  for (auto& r : rows) {
    if (!seen.insert({r.mutation.collection, r.mutation.record}).second) continue;
    if (r.state == "queued") out.push_back(std::move(r.mutation));
  }
  return out;
}

Result<int64_t> DeviceStore::cursor() {
  KEEL_ASSIGN_OR_RETURN(std::string c, meta(*db_, "cursor"));
  return std::stoll(c);
}

Status DeviceStore::store_server_copy(const std::string& collection, const std::string& record, int64_t version,
                                      const Json& fields) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
                                         "INSERT INTO records (collection, record_id, version, fields) VALUES (?, ?, ?, ?) "
                                         "ON CONFLICT (collection, record_id) DO UPDATE SET version = excluded.version, "
                                         "fields = excluded.fields WHERE excluded.version > records.version"));
  s.bind(1, collection).bind(2, record).bind(3, version).bind(4, fields.dump());
  return s.run();
}

Status DeviceStore::acknowledged(const std::string& collection, const std::string& record, int64_t seq,
                                 int64_t version, const Json& fields) {
  KEEL_RETURN_IF_ERROR(delete_queued(*db_, seq));
  KEEL_RETURN_IF_ERROR(store_server_copy(collection, record, version, fields));
  // The record's later mutations were made on top of this one (on the device's own view): they
  // now stand on the version it made, whatever version each was first made on.
  KEEL_ASSIGN_OR_RETURN(auto later, queue_rows(*db_, fmt::format("WHERE seq > {}", seq)));
  for (auto& r : later) {
    Mutation& m = r.mutation;
    if (m.collection != collection || m.record != record || m.base_version >= version) continue;
    m.base_version = version;
    m.base = Json::object();
    for (const auto& [field, value] : m.set.items())
      if (fields.contains(field)) m.base[field] = fields[field];
    KEEL_RETURN_IF_ERROR(update_queued(*db_, m, r.state, Json::array()));
  }
  return Status();
}

Result<int64_t> DeviceStore::apply_changes(const std::vector<Change>& changes) {
  if (changes.empty()) return int64_t{0};
  int64_t recovered = 0;
  KEEL_ASSIGN_OR_RETURN(Transaction t, Transaction::begin(*db_));
  const std::string mine = device_ + ":";
  for (const auto& c : changes) {
    bool acknowledged_here = false;
    if (c.mutation_id.starts_with(mine)) {
      const std::string digits = c.mutation_id.substr(mine.size());
      if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos)
        return Status::data_loss(fmt::format("the server's change log names a malformed mutation id '{}'", c.mutation_id));
      const int64_t seq = std::stoll(digits);
      KEEL_ASSIGN_OR_RETURN(auto rows, queue_rows(*db_, fmt::format("WHERE seq = {}", seq)));
      if (!rows.empty()) {
        const Mutation& m = rows[0].mutation;
        if (m.collection != c.collection || m.record != c.record)
          return Status::data_loss(fmt::format(
              "the server applied {} to {} {}, but this store queued it for {} {}: the store was made again under a "
              "device id already used; give it a new device id",
              c.mutation_id, c.collection, c.record, m.collection, m.record));
        KEEL_RETURN_IF_ERROR(acknowledged(c.collection, c.record, seq, c.version, c.fields));
        acknowledged_here = true;
        ++recovered;
      }
    }
    if (!acknowledged_here) KEEL_RETURN_IF_ERROR(store_server_copy(c.collection, c.record, c.version, c.fields));
    KEEL_RETURN_IF_ERROR(set_meta(*db_, "cursor", std::to_string(c.cursor)));
  }
  KEEL_RETURN_IF_ERROR(t.commit());
  return recovered;
}

Result<ReconcileReport> DeviceStore::reconcile(const SyncRules& rules) {
  KEEL_ASSIGN_OR_RETURN(Transaction t, Transaction::begin(*db_));
  KEEL_ASSIGN_OR_RETURN(auto rows, queue_rows(*db_));
  ReconcileReport report;
  std::set<std::pair<std::string, std::string>> first_seen;
  for (auto& r : rows) {
    // Only a record's first mutation stands on the server's version; the later ones stand on it
    // and move when it is acknowledged. A held first one holds the record's others back too.
    if (!first_seen.insert({r.mutation.collection, r.mutation.record}).second || r.state != "queued") continue;
    KEEL_ASSIGN_OR_RETURN(DeviceRecord server, record(r.mutation.collection, r.mutation.record));
    if (server.version == r.mutation.base_version) continue;
    Rebase b = rebase(r.mutation, server.version, server.server_fields, rules);
    report.conflicts.insert(report.conflicts.end(), b.conflicts.begin(), b.conflicts.end());
    if (b.held) {
      ++report.held;
      KEEL_RETURN_IF_ERROR(update_queued(*db_, r.mutation, "held", conflicts_json(b.conflicts)));
    } else if (!b.mutation) {
      ++report.dropped;
      KEEL_RETURN_IF_ERROR(delete_queued(*db_, r.mutation.seq));
    } else {
      ++report.rebased;
      KEEL_RETURN_IF_ERROR(update_queued(*db_, *b.mutation, "queued", conflicts_json(b.conflicts)));
    }
  }
  KEEL_RETURN_IF_ERROR(t.commit());
  return report;
}

Status DeviceStore::acknowledge(const Mutation& sent, const MutationOutcome& outcome) {
  if (outcome.mutation_id != sent.id())
    return Status::data_loss(fmt::format("the server answered for {} when {} was sent", outcome.mutation_id, sent.id()));
  if (outcome.outcome == "conflict") {
    // The server moved on: keep its copy so the next reconcile rebases onto it.
    return store_server_copy(sent.collection, sent.record, outcome.version, outcome.fields);
  }
  KEEL_ASSIGN_OR_RETURN(Transaction t, Transaction::begin(*db_));
  KEEL_RETURN_IF_ERROR(acknowledged(sent.collection, sent.record, sent.seq, outcome.version, outcome.fields));
  return t.commit();
}

Status DeviceStore::resolve(int64_t seq, bool keep_device_values) {
  KEEL_ASSIGN_OR_RETURN(Transaction t, Transaction::begin(*db_));
  KEEL_ASSIGN_OR_RETURN(auto rows, queue_rows(*db_, fmt::format("WHERE seq = {} AND state = 'held'", seq)));
  if (rows.empty()) return Status::not_found(fmt::format("no mutation {} waits for a decision", seq));
  Mutation m = rows[0].mutation;
  if (!keep_device_values) {
    KEEL_RETURN_IF_ERROR(delete_queued(*db_, seq));
    return t.commit();
  }
  KEEL_ASSIGN_OR_RETURN(DeviceRecord server, record(m.collection, m.record));
  SyncRules device_wins;
  device_wins.fallback = FieldRule::device_wins;
  Rebase b = rebase(m, server.version, server.server_fields, device_wins);
  if (b.mutation) {
    KEEL_RETURN_IF_ERROR(update_queued(*db_, *b.mutation, "queued", Json::array()));
  } else {
    KEEL_RETURN_IF_ERROR(delete_queued(*db_, seq));
  }
  return t.commit();
}

Result<DeviceStatus> DeviceStore::status() {
  DeviceStatus s;
  s.device = device_;
  KEEL_ASSIGN_OR_RETURN(Statement q, db_->prepare("SELECT (SELECT count(*) FROM queue WHERE state = 'queued'), "
                                                  "(SELECT count(*) FROM queue WHERE state = 'held'), "
                                                  "(SELECT count(*) FROM records)"));
  KEEL_ASSIGN_OR_RETURN(bool row, q.step());
  if (row) {
    s.queued = q.column_int(0);
    s.held = q.column_int(1);
    s.records = q.column_int(2);
  }
  KEEL_ASSIGN_OR_RETURN(std::string next, meta(*db_, "next_seq"));
  s.next_seq = std::stoll(next);
  KEEL_ASSIGN_OR_RETURN(s.cursor, cursor());
  return s;
}

Status DeviceStore::add_totals(const std::map<std::string, int64_t>& amounts) {
  KEEL_ASSIGN_OR_RETURN(Transaction t, Transaction::begin(*db_));
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO "
                                                  "UPDATE SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)"));
  for (const auto& [name, amount] : amounts) {
    s.bind(1, "total." + name).bind(2, std::to_string(amount));
    KEEL_RETURN_IF_ERROR(s.run());
    s.reset();
  }
  return t.commit();
}

Result<std::map<std::string, int64_t>> DeviceStore::totals() {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT substr(key, 7), CAST(value AS INTEGER) FROM meta WHERE key LIKE 'total.%'"));
  std::map<std::string, int64_t> out;
  while (true) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out[s.column_text(0)] = s.column_int(1);
  }
  return out;
}

}  // namespace keel::sync
