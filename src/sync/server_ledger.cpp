#include "sync/server_ledger.h"

#include <fmt/format.h>

namespace keel::sync {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS keel_sync_records (
  collection TEXT NOT NULL, record_id TEXT NOT NULL, version BIGINT NOT NULL, fields JSONB NOT NULL,
  PRIMARY KEY (collection, record_id));
CREATE TABLE IF NOT EXISTS keel_sync_ledger (
  device TEXT NOT NULL, seq BIGINT NOT NULL, collection TEXT NOT NULL, record_id TEXT NOT NULL,
  version BIGINT NOT NULL, mutation JSONB NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (device, seq));
CREATE TABLE IF NOT EXISTS keel_sync_changes (
  cursor BIGSERIAL PRIMARY KEY, collection TEXT NOT NULL, record_id TEXT NOT NULL, version BIGINT NOT NULL,
  fields JSONB NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL, UNIQUE (device, seq));
)sql";

Result<Json> json_of(const std::optional<std::string>& text) {
  if (!text) return Json::object();
  return parse_json(*text);
}

}  // namespace

Json Change::to_json() const {
  return {{"cursor", cursor}, {"collection", collection}, {"record", record},
          {"version", version}, {"fields", fields}, {"mutation_id", mutation_id}};
}

Result<Change> parse_change(const Json& j) {
  Change c;
  try {
    c.cursor = j.at("cursor").get<int64_t>();
    c.collection = j.at("collection").get<std::string>();
    c.record = j.at("record").get<std::string>();
    c.version = j.at("version").get<int64_t>();
    c.fields = j.at("fields");
    c.mutation_id = j.at("mutation_id").get<std::string>();
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("a change is malformed: ") + e.what());
  }
  if (!c.fields.is_object()) return Status::invalid_argument("a change's fields must be an object");
  return c;
}

Result<std::unique_ptr<ServerLedger>> ServerLedger::connect(const std::string& conninfo) {
  KEEL_ASSIGN_OR_RETURN(auto db, PgClient::connect(conninfo));
  return std::unique_ptr<ServerLedger>(new ServerLedger(std::move(db)));
}

Status ServerLedger::install() { return db_->exec(kSchema); }

Result<MutationOutcome> ServerLedger::apply(const Mutation& m) {
  KEEL_RETURN_IF_ERROR(db_->exec("BEGIN"));
  Result<MutationOutcome> outcome = Status::internal("not applied");
  try {
    outcome = apply_once(m);
  } catch (const std::exception& e) {
    outcome = Status::internal(std::string("applying a mutation failed: ") + e.what());
  }
  if (!outcome.ok() || outcome->outcome != "applied") {
    (void)db_->exec("ROLLBACK");
    return outcome;
  }
  KEEL_RETURN_IF_ERROR(db_->exec("COMMIT"));
  return outcome;
}

Result<MutationOutcome> ServerLedger::apply_once(const Mutation& m) {
  // The record's row first (an empty version-0 row stands for a record not yet made), locked:
  // every mutation of this record, this one's retries included, waits here in turn.
  KEEL_RETURN_IF_ERROR(db_->query("INSERT INTO keel_sync_records (collection, record_id, version, fields) "
                                  "VALUES ($1, $2, 0, '{}') ON CONFLICT DO NOTHING",
                                  {m.collection, m.record})
                           .status());
  KEEL_ASSIGN_OR_RETURN(PgRows current, db_->query("SELECT version, fields::text FROM keel_sync_records "
                                                   "WHERE collection = $1 AND record_id = $2 FOR UPDATE",
                                                   {m.collection, m.record}));
  if (current.rows.size() != 1) return Status::internal("the record's row vanished");
  MutationOutcome out;
  out.mutation_id = m.id();
  out.version = std::stoll(*current.rows[0][0]);
  KEEL_ASSIGN_OR_RETURN(out.fields, json_of(current.rows[0][1]));
  // Applied before: the version it made and the fields then, as the first answer said.
  KEEL_ASSIGN_OR_RETURN(PgRows seen, db_->query("SELECT version, fields::text, collection, record_id FROM "
                                                "keel_sync_changes WHERE device = $1 AND seq = $2",
                                                {m.device, std::to_string(m.seq)}));
  if (!seen.rows.empty() && (*seen.rows[0][2] != m.collection || *seen.rows[0][3] != m.record))
    return Status::already_exists(fmt::format(
        "mutation {} was applied to {} {}, not {} {}: the device's store was made again under a used device id",
        m.id(), *seen.rows[0][2], *seen.rows[0][3], m.collection, m.record));
  if (!seen.rows.empty()) {
    out.outcome = "duplicate";
    out.version = std::stoll(*seen.rows[0][0]);
    KEEL_ASSIGN_OR_RETURN(out.fields, json_of(seen.rows[0][1]));
    return out;
  }
  if (m.base_version != out.version) {
    out.outcome = "conflict";
    return out;
  }
  for (const auto& [field, value] : m.set.items()) out.fields[field] = value;
  out.version += 1;
  out.outcome = "applied";
  const std::string fields = out.fields.dump(), version = std::to_string(out.version), seq = std::to_string(m.seq);
  KEEL_RETURN_IF_ERROR(db_->query("UPDATE keel_sync_records SET version = $3, fields = $4::jsonb "
                                  "WHERE collection = $1 AND record_id = $2",
                                  {m.collection, m.record, version, fields})
                           .status());
  KEEL_RETURN_IF_ERROR(db_->query("INSERT INTO keel_sync_ledger (device, seq, collection, record_id, version, mutation) "
                                  "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                                  {m.device, seq, m.collection, m.record, version, m.to_json().dump()})
                           .status());
  // Change rows take their cursor in commit order (a lock held to the commit), so a device that
  // pulled past a cursor can never miss a change committed later under a smaller one.
  KEEL_RETURN_IF_ERROR(db_->query("SELECT pg_advisory_xact_lock(7305020151)").status());
  KEEL_RETURN_IF_ERROR(db_->query("INSERT INTO keel_sync_changes (collection, record_id, version, fields, device, seq) "
                                  "VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
                                  {m.collection, m.record, version, fields, m.device, seq})
                           .status());
  return out;
}

Result<std::vector<Change>> ServerLedger::pull(int64_t after, int64_t limit) {
  KEEL_ASSIGN_OR_RETURN(PgRows r, db_->query("SELECT cursor, collection, record_id, version, fields::text, device, seq "
                                             "FROM keel_sync_changes WHERE cursor > $1 ORDER BY cursor LIMIT $2",
                                             {std::to_string(after), std::to_string(limit)}));
  std::vector<Change> out;
  for (const auto& row : r.rows) {
    Change c;
    c.cursor = std::stoll(*row[0]);
    c.collection = *row[1];
    c.record = *row[2];
    c.version = std::stoll(*row[3]);
    KEEL_ASSIGN_OR_RETURN(c.fields, json_of(row[4]));
    c.mutation_id = *row[5] + ":" + *row[6];
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<int64_t>> ServerLedger::applied_seqs(const std::string& device) {
  KEEL_ASSIGN_OR_RETURN(PgRows r, db_->query("SELECT seq FROM keel_sync_ledger WHERE device = $1 ORDER BY seq", {device}));
  std::vector<int64_t> out;
  for (const auto& row : r.rows) out.push_back(std::stoll(*row[0]));
  return out;
}

Result<LedgerCounts> ServerLedger::counts() {
  KEEL_ASSIGN_OR_RETURN(PgRows r, db_->query("SELECT (SELECT count(*) FROM keel_sync_ledger), "
                                             "(SELECT count(*) FROM keel_sync_records WHERE version > 0)"));
  return LedgerCounts{std::stoll(*r.rows[0][0]), std::stoll(*r.rows[0][1])};
}

}  // namespace keel::sync
