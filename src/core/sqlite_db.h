// A thin, Status-returning wrapper over SQLite 3, shared by the layers that keep state in it
// (the document store, the agent journal, queues).
//
// Contract:
// - open() applies the options (read-only, WAL, synchronous mode, foreign keys, busy timeout)
//   and runs a quick integrity check when asked; a file that is not a database or is damaged is
//   data_loss with SQLite's message and the path.
// - Statements are prepared per call site and reset after use; values are bound by position.
// - Transaction is RAII: it rolls back unless commit() was called.
// - A Database is used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace keel {

struct SqliteOptions {
  bool read_only = false;
  bool create = true;           //!< create the file if missing (ignored when read_only)
  bool wal = true;
  std::string synchronous = "NORMAL";  //!< OFF | NORMAL | FULL | EXTRA
  bool foreign_keys = true;
  int busy_timeout_ms = 5000;
  bool integrity_check = false;  //!< PRAGMA quick_check on open
};

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const uint8_t> bytes);
  Statement& bind_null(int index);

  //! true: a row is ready; false: done. Errors come back as Status.
  [[nodiscard]] Result<bool> step();
  //! Runs to completion (for statements that return no rows).
  [[nodiscard]] Status run();
  void reset();

  int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  std::vector<uint8_t> column_blob(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Database>> open(const std::string& path,
                                                              const SqliteOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  [[nodiscard]] Status exec(std::string_view sql);
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);
  int64_t last_insert_id() const;
  int changes() const;
  const std::string& path() const { return path_; }
  //! Wraps an SQLite result code as a Status naming the database.
  Status error(int code, std::string_view what) const;

 private:
  Database() = default;
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Transaction {
 public:
  //! BEGIN IMMEDIATE (takes the write lock now, so a busy database fails here, not midway).
  [[nodiscard]] static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  [[nodiscard]] Status commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace keel
