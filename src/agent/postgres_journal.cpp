#include "agent/postgres_journal.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>

#include "core/json.h"

namespace keel::agent {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS keel_cases (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  input TEXT NOT NULL,
  principal TEXT NOT NULL,
  created_ns BIGINT NOT NULL,
  updated_ns BIGINT NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ns BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS keel_cases_by_state ON keel_cases(state, updated_ns);
CREATE TABLE IF NOT EXISTS keel_journal (
  case_id TEXT NOT NULL REFERENCES keel_cases(id),
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  step BIGINT NOT NULL,
  data TEXT NOT NULL,
  at_ns BIGINT NOT NULL,
  PRIMARY KEY (case_id, seq)
);
)sql";

constexpr const char* kCaseColumns =
    "id, workflow, version, state, input, principal, created_ns, updated_ns, lease_owner, lease_until_ns";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresJournal : public JournalStore {
 public:
  PostgresJournal(std::string conninfo, const Clock& clock)
      : conninfo_(std::move(conninfo)), clock_(clock) {}
  ~PostgresJournal() override {
    if (conn_) PQfinish(conn_);
  }

  Status connect() {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return Status();
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn_);
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      PQfinish(conn_);
      conn_ = nullptr;
      return Status::unavailable(fmt::format("cannot reach the PostgreSQL journal: {}", message));
    }
    PgResult quiet(PQexec(conn_, "SET client_min_messages = warning"));
    if (!schema_ready_) {
      PgResult r(PQexec(conn_, kSchema));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error(r.get(), "creating the journal tables");
      schema_ready_ = true;
    }
    return Status();
  }

  std::string describe() const override {
    // Never print a password.
    std::string safe = conninfo_;
    if (auto at = safe.find('@'); at != std::string::npos && safe.find("://") != std::string::npos) {
      safe = safe.substr(0, safe.find("://") + 3) + "***" + safe.substr(at);
    }
    return "postgresql:" + safe;
  }

  Status create_case(const CaseInfo& info, const JournalRecord& first) override {
    KEEL_RETURN_IF_ERROR(begin());
    auto r = exec(fmt::format("INSERT INTO keel_cases ({}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (id) DO NOTHING",
                              kCaseColumns),
                  {info.id, info.workflow, std::to_string(info.version), std::string(case_state_name(info.state)),
                   canonical_json(info.input), info.principal, std::to_string(info.created_ns),
                   std::to_string(info.updated_ns), info.lease_owner, std::to_string(info.lease_until_ns)});
    if (!r.ok()) return rollback(r.status());
    if (std::atoi(PQcmdTuples(r->get())) == 0) {
      return rollback(Status::already_exists(fmt::format("case {} already exists", info.id)));
    }
    Status s = insert_record(info.id, 1, first);
    if (!s.ok()) return rollback(s);
    return commit();
  }

  Result<CaseInfo> get_case(const std::string& id) override {
    KEEL_ASSIGN_OR_RETURN(auto r, exec(fmt::format("SELECT {} FROM keel_cases WHERE id = $1", kCaseColumns), {id}));
    if (PQntuples(r.get()) == 0) return Status::not_found(fmt::format("no case {} in {}", id, describe()));
    return case_from(r.get(), 0);
  }

  Result<std::vector<CaseInfo>> list_cases(std::optional<CaseState> state) override {
    std::vector<std::string> params;
    std::string sql = fmt::format("SELECT {} FROM keel_cases", kCaseColumns);
    if (state) {
      sql += " WHERE state = $1";
      params.emplace_back(case_state_name(*state));
    }
    sql += " ORDER BY created_ns DESC, id";
    KEEL_ASSIGN_OR_RETURN(auto r, exec(sql, params));
    std::vector<CaseInfo> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      KEEL_ASSIGN_OR_RETURN(CaseInfo c, case_from(r.get(), i));
      out.push_back(std::move(c));
    }
    return out;
  }

  Result<std::vector<JournalRecord>> read(const std::string& case_id) override {
    KEEL_ASSIGN_OR_RETURN(auto r, exec("SELECT seq, kind, step, data, at_ns FROM keel_journal WHERE case_id = $1 ORDER BY seq", {case_id}));
    std::vector<JournalRecord> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      JournalRecord rec;
      rec.seq = std::atoll(PQgetvalue(r.get(), i, 0));
      rec.kind = PQgetvalue(r.get(), i, 1);
      rec.step = std::atoll(PQgetvalue(r.get(), i, 2));
      auto data = parse_json(PQgetvalue(r.get(), i, 3));
      if (!data.ok()) return Status::data_loss(fmt::format("case {} record {} is not JSON", case_id, rec.seq));
      rec.data = std::move(*data);
      rec.at_ns = std::atoll(PQgetvalue(r.get(), i, 4));
      out.push_back(std::move(rec));
    }
    return out;
  }

  Status append(const std::string& case_id, int64_t expected_last_seq, const std::vector<JournalRecord>& records,
                std::optional<CaseState> new_state) override {
    KEEL_RETURN_IF_ERROR(begin());
    // Lock the case row: appends to one case are serialized.
    auto lock = exec("SELECT 1 FROM keel_cases WHERE id = $1 FOR UPDATE", {case_id});
    if (!lock.ok()) return rollback(lock.status());
    if (PQntuples(lock->get()) == 0) return rollback(Status::not_found(fmt::format("no case {}", case_id)));
    auto last = exec("SELECT COALESCE(MAX(seq), 0) FROM keel_journal WHERE case_id = $1", {case_id});
    if (!last.ok()) return rollback(last.status());
    int64_t current = std::atoll(PQgetvalue(last->get(), 0, 0));
    if (current != expected_last_seq) {
      return rollback(Status::aborted(fmt::format(
          "case {} moved on (record {} exists, expected {}): another worker holds it", case_id, current, expected_last_seq)));
    }
    int64_t seq = expected_last_seq;
    for (const auto& r : records) {
      Status s = insert_record(case_id, ++seq, r);
      if (!s.ok()) return rollback(s);
    }
    auto update = new_state
                      ? exec("UPDATE keel_cases SET updated_ns = $1, state = $2 WHERE id = $3",
                             {std::to_string(clock_.unix_now_ns()),
                              std::string(case_state_name(*new_state)), case_id})
                      : exec("UPDATE keel_cases SET updated_ns = $1 WHERE id = $2",
                             {std::to_string(clock_.unix_now_ns()), case_id});
    if (!update.ok()) return rollback(update.status());
    return commit();
  }

  Result<std::optional<std::string>> claim(const std::string& owner, double lease_s) override {
    const int64_t now = clock_.unix_now_ns();
    KEEL_ASSIGN_OR_RETURN(auto r, exec(
        "UPDATE keel_cases SET lease_owner = $1, lease_until_ns = $2 WHERE id = ("
        "  SELECT id FROM keel_cases WHERE state = 'running' AND (lease_owner = '' OR lease_until_ns < $3)"
        "  ORDER BY updated_ns LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
        {owner, std::to_string(now + static_cast<int64_t>(lease_s * 1e9)), std::to_string(now)}));
    if (PQntuples(r.get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(PQgetvalue(r.get(), 0, 0));
  }

  Status acquire(const std::string& case_id, const std::string& owner, double lease_s) override {
    const int64_t now = clock_.unix_now_ns();
    KEEL_ASSIGN_OR_RETURN(auto r, exec(
        "UPDATE keel_cases SET lease_owner = $1, lease_until_ns = $2 WHERE id = $3 AND "
        "(lease_owner = '' OR lease_owner = $1 OR lease_until_ns < $4) RETURNING id",
        {owner, std::to_string(now + static_cast<int64_t>(lease_s * 1e9)), case_id, std::to_string(now)}));
    if (PQntuples(r.get()) == 1) return Status();
    KEEL_ASSIGN_OR_RETURN(CaseInfo c, get_case(case_id));
    return Status::failed_precondition(fmt::format("case {} is being worked on by {} (lease for {:.0f} s more)", case_id,
                                                   c.lease_owner, (c.lease_until_ns - now) / 1e9));
  }

  Status take_over(const std::string& case_id, const std::string& from_owner, const std::string& owner, double lease_s) override {
    KEEL_ASSIGN_OR_RETURN(
        auto r,
        exec("UPDATE keel_cases SET lease_owner = $1, lease_until_ns = $2 WHERE id = $3 AND "
             "lease_owner = $4",
             {owner, std::to_string(clock_.unix_now_ns() + static_cast<int64_t>(lease_s * 1e9)),
              case_id, from_owner}));
    if (std::atoi(PQcmdTuples(r.get())) == 0) return Status::aborted(fmt::format("case {}: {} no longer holds the lease", case_id, from_owner));
    return Status();
  }

  Status renew(const std::string& case_id, const std::string& owner, double lease_s) override {
    KEEL_ASSIGN_OR_RETURN(
        auto r, exec("UPDATE keel_cases SET lease_until_ns = $1 WHERE id = $2 AND lease_owner = $3",
                     {std::to_string(clock_.unix_now_ns() + static_cast<int64_t>(lease_s * 1e9)),
                      case_id, owner}));
    if (std::atoi(PQcmdTuples(r.get())) == 0) return Status::aborted(fmt::format("case {}: the lease was lost", case_id));
    return Status();
  }

  Status release(const std::string& case_id, const std::string& owner) override {
    KEEL_ASSIGN_OR_RETURN(auto r, exec("UPDATE keel_cases SET lease_owner = '', lease_until_ns = 0 WHERE id = $1 AND lease_owner = $2",
                                       {case_id, owner}));
    return Status();
  }

 private:
  Status error(PGresult* r, std::string_view what) {
    std::string message = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      return Status::unavailable(fmt::format("the PostgreSQL journal went away while {}: {}", what, message));
    }
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    if (state && std::string_view(state).substr(0, 2) == "08") {
      return Status::unavailable(fmt::format("the PostgreSQL journal went away while {}: {}", what, message));
    }
    if (state && std::string_view(state) == "23505") return Status::aborted(fmt::format("{}: {}", what, message));
    return Status::internal(fmt::format("PostgreSQL journal, {}: {}", what, message));
  }

  Result<PgResult> exec(const std::string& sql, const std::vector<std::string>& params) {
    KEEL_RETURN_IF_ERROR(connect());
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      Status s = error(r.get(), "running a statement");
      if (s.code() == StatusCode::unavailable) {
        PQfinish(conn_);
        conn_ = nullptr;
        in_transaction_ = false;
      }
      return s;
    }
    return r;
  }

  Status begin() {
    KEEL_ASSIGN_OR_RETURN(auto r, exec("BEGIN", {}));
    in_transaction_ = true;
    return Status();
  }
  Status commit() {
    auto r = exec("COMMIT", {});
    in_transaction_ = false;
    return r.ok() ? Status() : r.status();
  }
  Status rollback(Status cause) {
    if (in_transaction_ && conn_) PgResult r(PQexec(conn_, "ROLLBACK"));
    in_transaction_ = false;
    return cause;
  }

  Status insert_record(const std::string& case_id, int64_t seq, const JournalRecord& r) {
    auto res = exec(
        "INSERT INTO keel_journal (case_id, seq, kind, step, data, at_ns) VALUES "
        "($1,$2,$3,$4,$5,$6)",
        {case_id, std::to_string(seq), r.kind, std::to_string(r.step), canonical_json(r.data),
         std::to_string(r.at_ns ? r.at_ns : clock_.unix_now_ns())});
    return res.ok() ? Status() : res.status();
  }

  Result<CaseInfo> case_from(PGresult* r, int row) {
    CaseInfo c;
    c.id = PQgetvalue(r, row, 0);
    c.workflow = PQgetvalue(r, row, 1);
    c.version = std::atoi(PQgetvalue(r, row, 2));
    auto state = case_state_from_name(PQgetvalue(r, row, 3));
    if (!state) return Status::data_loss(fmt::format("case {} has an unknown state", c.id));
    c.state = *state;
    auto input = parse_json(PQgetvalue(r, row, 4));
    if (!input.ok()) return Status::data_loss(fmt::format("case {}: its input is not JSON", c.id));
    c.input = std::move(*input);
    c.principal = PQgetvalue(r, row, 5);
    c.created_ns = std::atoll(PQgetvalue(r, row, 6));
    c.updated_ns = std::atoll(PQgetvalue(r, row, 7));
    c.lease_owner = PQgetvalue(r, row, 8);
    c.lease_until_ns = std::atoll(PQgetvalue(r, row, 9));
    return c;
  }

  std::string conninfo_;
  const Clock& clock_;
  PGconn* conn_ = nullptr;
  bool schema_ready_ = false;
  bool in_transaction_ = false;
};

}  // namespace

Result<std::unique_ptr<JournalStore>> open_postgres_journal(const std::string& conninfo,
                                                            const Clock& clock) {
  auto j = std::make_unique<PostgresJournal>(conninfo, clock);
  KEEL_RETURN_IF_ERROR(j->connect());
  return std::unique_ptr<JournalStore>(std::move(j));
}

}  // namespace keel::agent
