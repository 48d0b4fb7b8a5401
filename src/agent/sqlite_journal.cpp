#include "agent/sqlite_journal.h"

#include <fmt/format.h>

#include "core/json.h"
#include "core/sqlite_db.h"

namespace keel::agent {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS cases (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  input TEXT NOT NULL,
  principal TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cases_by_state ON cases(state, updated_ns);
CREATE TABLE IF NOT EXISTS journal (
  case_id TEXT NOT NULL REFERENCES cases(id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  step INTEGER NOT NULL,
  data TEXT NOT NULL,
  at_ns INTEGER NOT NULL,
  PRIMARY KEY (case_id, seq)
) WITHOUT ROWID;
)sql";

constexpr std::string_view kCaseColumns =
    "id, workflow, version, state, input, principal, created_ns, updated_ns, lease_owner, lease_until_ns";

Result<CaseInfo> case_from(const Statement& s) {
  CaseInfo c;
  c.id = s.column_text(0);
  c.workflow = s.column_text(1);
  c.version = static_cast<int>(s.column_int(2));
  auto state = case_state_from_name(s.column_text(3));
  if (!state) return Status::data_loss(fmt::format("case {} has an unknown state '{}'", c.id, s.column_text(3)));
  c.state = *state;
  auto input = parse_json(s.column_text(4));
  if (!input.ok()) return Status::data_loss(fmt::format("case {}: its input is not JSON", c.id));
  c.input = std::move(*input);
  c.principal = s.column_text(5);
  c.created_ns = s.column_int(6);
  c.updated_ns = s.column_int(7);
  c.lease_owner = s.column_text(8);
  c.lease_until_ns = s.column_int(9);
  return c;
}

class SqliteJournal : public JournalStore {
 public:
  SqliteJournal(std::unique_ptr<Database> db, const Clock& clock)
      : db_(std::move(db)), clock_(clock) {}

  std::string describe() const override { return "sqlite:" + db_->path(); }

  Status create_case(const CaseInfo& info, const JournalRecord& first) override {
    KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    {
      KEEL_ASSIGN_OR_RETURN(Statement exists, db_->prepare("SELECT 1 FROM cases WHERE id = ?"));
      exists.bind(1, info.id);
      KEEL_ASSIGN_OR_RETURN(bool found, exists.step());
      if (found) return Status::already_exists(fmt::format("case {} already exists", info.id));
    }
    KEEL_ASSIGN_OR_RETURN(Statement insert, db_->prepare(fmt::format("INSERT INTO cases ({}) VALUES (?,?,?,?,?,?,?,?,?,?)", kCaseColumns)));
    insert.bind(1, info.id).bind(2, info.workflow).bind(3, static_cast<int64_t>(info.version));
    insert.bind(4, case_state_name(info.state)).bind(5, canonical_json(info.input)).bind(6, info.principal);
    insert.bind(7, info.created_ns).bind(8, info.updated_ns).bind(9, info.lease_owner).bind(10, info.lease_until_ns);
    KEEL_RETURN_IF_ERROR(insert.run());
    KEEL_RETURN_IF_ERROR(insert_record(info.id, 1, first));
    return tx.commit();
  }

  Result<CaseInfo> get_case(const std::string& id) override {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(fmt::format("SELECT {} FROM cases WHERE id = ?", kCaseColumns)));
    s.bind(1, id);
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::not_found(fmt::format("no case {} in {}", id, describe()));
    return case_from(s);
  }

  Result<std::vector<CaseInfo>> list_cases(std::optional<CaseState> state) override {
    std::string sql = fmt::format("SELECT {} FROM cases{} ORDER BY created_ns DESC, id", kCaseColumns,
                                  state ? " WHERE state = ?" : "");
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(sql));
    if (state) s.bind(1, case_state_name(*state));
    std::vector<CaseInfo> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, s.step());
      if (!row) break;
      KEEL_ASSIGN_OR_RETURN(CaseInfo c, case_from(s));
      out.push_back(std::move(c));
    }
    return out;
  }

  Result<std::vector<JournalRecord>> read(const std::string& case_id) override {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT seq, kind, step, data, at_ns FROM journal WHERE case_id = ? ORDER BY seq"));
    s.bind(1, case_id);
    std::vector<JournalRecord> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, s.step());
      if (!row) break;
      JournalRecord r;
      r.seq = s.column_int(0);
      r.kind = s.column_text(1);
      r.step = s.column_int(2);
      auto data = parse_json(s.column_text(3));
      if (!data.ok()) return Status::data_loss(fmt::format("case {} record {} is not JSON", case_id, r.seq));
      r.data = std::move(*data);
      r.at_ns = s.column_int(4);
      out.push_back(std::move(r));
    }
    return out;
  }

  Status append(const std::string& case_id, int64_t expected_last_seq, const std::vector<JournalRecord>& records,
                std::optional<CaseState> new_state) override {
    KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    KEEL_ASSIGN_OR_RETURN(Statement last, db_->prepare("SELECT COALESCE(MAX(seq), 0) FROM journal WHERE case_id = ?"));
    last.bind(1, case_id);
    KEEL_ASSIGN_OR_RETURN(bool row, last.step());
    int64_t current = row ? last.column_int(0) : 0;
    if (current != expected_last_seq) {
      return Status::aborted(fmt::format("case {} moved on (record {} exists, expected {}): another worker holds it",
                                         case_id, current, expected_last_seq));
    }
    int64_t seq = expected_last_seq;
    for (const auto& r : records) KEEL_RETURN_IF_ERROR(insert_record(case_id, ++seq, r));
    KEEL_ASSIGN_OR_RETURN(Statement update, db_->prepare(new_state ? "UPDATE cases SET updated_ns = ?, state = ? WHERE id = ?"
                                                                    : "UPDATE cases SET updated_ns = ? WHERE id = ?"));
    update.bind(1, clock_.unix_now_ns());
    if (new_state) {
      update.bind(2, case_state_name(*new_state)).bind(3, case_id);
    } else {
      update.bind(2, case_id);
    }
    KEEL_RETURN_IF_ERROR(update.run());
    return tx.commit();
  }

  Result<std::optional<std::string>> claim(const std::string& owner, double lease_s) override {
    KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    const int64_t now = clock_.unix_now_ns();
    KEEL_ASSIGN_OR_RETURN(Statement pick, db_->prepare(
        "SELECT id FROM cases WHERE state = 'running' AND (lease_owner = '' OR lease_until_ns < ?) "
        "ORDER BY updated_ns LIMIT 1"));
    pick.bind(1, now);
    KEEL_ASSIGN_OR_RETURN(bool row, pick.step());
    if (!row) return std::optional<std::string>();
    std::string id = pick.column_text(0);
    pick.reset();
    KEEL_RETURN_IF_ERROR(set_lease(id, owner, now + static_cast<int64_t>(lease_s * 1e9)));
    KEEL_RETURN_IF_ERROR(tx.commit());
    return std::optional<std::string>(id);
  }

  Status acquire(const std::string& case_id, const std::string& owner, double lease_s) override {
    KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    KEEL_ASSIGN_OR_RETURN(CaseInfo c, get_case(case_id));
    const int64_t now = clock_.unix_now_ns();
    if (!c.lease_owner.empty() && c.lease_owner != owner && c.lease_until_ns >= now) {
      return Status::failed_precondition(fmt::format("case {} is being worked on by {} (lease for {:.0f} s more)", case_id,
                                                     c.lease_owner, (c.lease_until_ns - now) / 1e9));
    }
    KEEL_RETURN_IF_ERROR(set_lease(case_id, owner, now + static_cast<int64_t>(lease_s * 1e9)));
    return tx.commit();
  }

  Status take_over(const std::string& case_id, const std::string& from_owner, const std::string& owner, double lease_s) override {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("UPDATE cases SET lease_owner = ?, lease_until_ns = ? WHERE id = ? AND lease_owner = ?"));
    s.bind(1, owner)
        .bind(2, clock_.unix_now_ns() + static_cast<int64_t>(lease_s * 1e9))
        .bind(3, case_id)
        .bind(4, from_owner);
    KEEL_RETURN_IF_ERROR(s.run());
    if (db_->changes() == 0) return Status::aborted(fmt::format("case {}: {} no longer holds the lease", case_id, from_owner));
    return Status();
  }

  Status renew(const std::string& case_id, const std::string& owner, double lease_s) override {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("UPDATE cases SET lease_until_ns = ? WHERE id = ? AND lease_owner = ?"));
    s.bind(1, clock_.unix_now_ns() + static_cast<int64_t>(lease_s * 1e9))
        .bind(2, case_id)
        .bind(3, owner);
    KEEL_RETURN_IF_ERROR(s.run());
    if (db_->changes() == 0) return Status::aborted(fmt::format("case {}: the lease was lost", case_id));
    return Status();
  }

  Status release(const std::string& case_id, const std::string& owner) override {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("UPDATE cases SET lease_owner = '', lease_until_ns = 0 WHERE id = ? AND lease_owner = ?"));
    s.bind(1, case_id).bind(2, owner);
    return s.run();
  }

 private:
  Status insert_record(const std::string& case_id, int64_t seq, const JournalRecord& r) {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("INSERT INTO journal (case_id, seq, kind, step, data, at_ns) VALUES (?,?,?,?,?,?)"));
    s.bind(1, case_id).bind(2, seq).bind(3, r.kind).bind(4, r.step).bind(5, canonical_json(r.data));
    s.bind(6, r.at_ns ? r.at_ns : clock_.unix_now_ns());
    return s.run();
  }
  Status set_lease(const std::string& id, const std::string& owner, int64_t until) {
    KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("UPDATE cases SET lease_owner = ?, lease_until_ns = ? WHERE id = ?"));
    s.bind(1, owner).bind(2, until).bind(3, id);
    return s.run();
  }

  std::unique_ptr<Database> db_;
  const Clock& clock_;
};

}  // namespace

Result<std::unique_ptr<JournalStore>> open_sqlite_journal(const std::string& path,
                                                          const Clock& clock) {
  SqliteOptions o;
  o.wal = true;
  o.synchronous = "FULL";
  o.integrity_check = true;
  o.busy_timeout_ms = 10000;
  KEEL_ASSIGN_OR_RETURN(auto db, Database::open(path, o));
  KEEL_RETURN_IF_ERROR(db->exec(kSchema));
  return std::unique_ptr<JournalStore>(new SqliteJournal(std::move(db), clock));
}

}  // namespace keel::agent
