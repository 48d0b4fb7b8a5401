#include "core/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <utility>

namespace keel {

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Statement& Statement::bind_blob(int index, std::span<const uint8_t> bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string message = sqlite3_errmsg(db_);
  const char* file = sqlite3_db_filename(db_, "main");
  std::string where = file ? file : "database";
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::unavailable(fmt::format("{}: busy: {}", where, message));
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::data_loss(fmt::format("{}: {}", where, message));
  if (rc == SQLITE_FULL) return Status::resource_exhausted(fmt::format("{}: disk full: {}", where, message));
  if (rc == SQLITE_READONLY) return Status::permission_denied(fmt::format("{}: read-only: {}", where, message));
  if (rc == SQLITE_CONSTRAINT) return Status::already_exists(fmt::format("{}: {}", where, message));
  return Status::internal(fmt::format("{}: sqlite error {}: {}", where, rc, message));
}

Status Statement::run() {
  for (;;) {
    auto r = step();
    if (!r.ok()) {
      reset();
      return r.status();
    }
    if (!*r) break;
  }
  reset();
  return Status();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
double Statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }
std::string Statement::column_text(int index) const {
  const unsigned char* t = sqlite3_column_text(stmt_, index);
  int n = sqlite3_column_bytes(stmt_, index);
  return t ? std::string(reinterpret_cast<const char*>(t), n) : std::string();
}
std::vector<uint8_t> Statement::column_blob(int index) const {
  const void* b = sqlite3_column_blob(stmt_, index);
  int n = sqlite3_column_bytes(stmt_, index);
  if (!b) return {};
  auto* p = static_cast<const uint8_t*>(b);
  return std::vector<uint8_t>(p, p + n);
}
bool Statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

Status Database::error(int code, std::string_view what) const {
  std::string message = fmt::format("{}: {}: {}", path_, what, db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code));
  switch (code) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status::data_loss(message);
    case SQLITE_CANTOPEN: return Status::not_found(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::unavailable(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH: return Status::permission_denied(message);
    case SQLITE_FULL: return Status::resource_exhausted(message);
    default: return Status::internal(message);
  }
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path, const SqliteOptions& o) {
  std::unique_ptr<Database> db(new Database());
  db->path_ = path;
  int flags = o.read_only ? SQLITE_OPEN_READONLY
                          : (SQLITE_OPEN_READWRITE | (o.create ? SQLITE_OPEN_CREATE : 0));
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db->db_, flags, nullptr);
  if (rc != SQLITE_OK) return db->error(rc, "cannot open");
  sqlite3_extended_result_codes(db->db_, 0);
  sqlite3_busy_timeout(db->db_, o.busy_timeout_ms);
  if (!o.read_only && o.wal) KEEL_RETURN_IF_ERROR(db->exec("PRAGMA journal_mode=WAL"));
  if (!o.read_only) KEEL_RETURN_IF_ERROR(db->exec("PRAGMA synchronous=" + o.synchronous));
  if (o.foreign_keys) KEEL_RETURN_IF_ERROR(db->exec("PRAGMA foreign_keys=ON"));
  if (o.integrity_check) {
    KEEL_ASSIGN_OR_RETURN(Statement check, db->prepare("PRAGMA quick_check"));
    KEEL_ASSIGN_OR_RETURN(bool row, check.step());
    std::string verdict = row ? check.column_text(0) : "no answer";
    if (verdict != "ok") return Status::data_loss(fmt::format("{}: integrity check failed: {}", path, verdict));
  }
  return db;
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

Status Database::exec(std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status s = error(rc, "statement failed");
    return Status(s.code(), fmt::format("{}: {} (in: {})", path_, message, text.substr(0, 80)));
  }
  return Status();
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, fmt::format("cannot prepare '{}'", sql.substr(0, 60)));
  return Statement(db_, stmt);
}

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

Result<Transaction> Transaction::begin(Database& db) {
  KEEL_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Database* db = db_;
  db_ = nullptr;
  return db->exec("COMMIT");
}

}  // namespace keel
