// A small libpq client for the layers that keep state in PostgreSQL: one connection, statements
// with bound text parameters, results as rows of text, and transactions.
//
// Contract:
// - connect() is unavailable (with the server's reason, trimmed) when the server cannot be
//   reached. A connection found broken is reset before the next statement; a statement that
//   fails because the server went away while the connection sat idle outside a transaction is
//   run once more on a new connection (nothing of it had run). Inside a transaction it is not:
//   the transaction is gone, and the caller hears unavailable ("try again later").
// - query() binds every parameter as text (nullopt: SQL NULL); no value is ever spliced into
//   SQL. A failed statement is internal with the server's message, except a unique violation
//   (already_exists) and a serialization failure or deadlock (aborted: safe to retry).
// - Not thread-safe: one connection, one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct pg_conn;

namespace keel {

struct PgRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  int64_t affected = 0;  //!< rows an INSERT/UPDATE/DELETE touched
};

class PgClient {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PgClient>> connect(const std::string& conninfo);
  ~PgClient();
  PgClient(const PgClient&) = delete;
  PgClient& operator=(const PgClient&) = delete;

  //! Statements without parameters, possibly several (schema scripts).
  [[nodiscard]] Status exec(std::string_view sql);
  [[nodiscard]] Result<PgRows> query(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});

 private:
  PgClient() = default;
  [[nodiscard]] Status ready();
  pg_conn* conn_ = nullptr;
};

}  // namespace keel
