#include "core/pg_client.h"

#include <fmt/format.h>
#include <libpq-fe.h>

namespace keel {
namespace {

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

Status failure(PGconn* conn, PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
  const std::string_view code = state ? state : "";
  if (PQstatus(conn) != CONNECTION_OK) return Status::unavailable("the database connection failed: " + message);
  if (code == "23505") return Status::already_exists(message);
  if (code == "40001" || code == "40P01") return Status::aborted(message);
  if (code.starts_with("08") || code == "57P01" || code == "57P03")
    return Status::unavailable("the database is unavailable: " + message);
  return Status::internal(message);
}

}  // namespace

Result<std::unique_ptr<PgClient>> PgClient::connect(const std::string& conninfo) {
  std::unique_ptr<PgClient> c(new PgClient());
  c->conn_ = PQconnectdb(conninfo.c_str());
  if (PQstatus(c->conn_) != CONNECTION_OK)
    return Status::unavailable(fmt::format("cannot connect to PostgreSQL: {}", trimmed(PQerrorMessage(c->conn_))));
  PgResult quiet(PQexec(c->conn_, "SET client_min_messages = warning"));
  return c;
}

PgClient::~PgClient() {
  if (conn_) PQfinish(conn_);
}

Status PgClient::ready() {
  if (PQstatus(conn_) == CONNECTION_OK) return Status();
  PQreset(conn_);  // a restarted server: one more try
  if (PQstatus(conn_) == CONNECTION_OK) return Status();
  return Status::unavailable(fmt::format("cannot reach PostgreSQL: {}", trimmed(PQerrorMessage(conn_))));
}

Status PgClient::exec(std::string_view sql) {
  return query(std::string(sql), {}).status();
}

Result<PgRows> PgClient::query(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  KEEL_RETURN_IF_ERROR(ready());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  auto run = [&] {
    // Without parameters PQexec runs scripts of several statements (a schema); with them, one.
    return PgResult(values.empty() ? PQexec(conn_, sql.c_str())
                                   : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                  values.data(), nullptr, nullptr, 0));
  };
  // A connection whose server restarted while it was idle fails its next statement: outside a
  // transaction nothing was lost, so reconnect and run it once more.
  const bool idle = PQtransactionStatus(conn_) == PQTRANS_IDLE;
  PgResult r = run();
  if (idle && PQstatus(conn_) != CONNECTION_OK) {
    PQreset(conn_);
    if (PQstatus(conn_) == CONNECTION_OK) r = run();
  }
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return failure(conn_, r.get());
  PgRows out;
  const int columns = PQnfields(r.get());
  for (int c = 0; c < columns; ++c) out.columns.push_back(PQfname(r.get(), c));
  const int rows = PQntuples(r.get());
  out.rows.reserve(static_cast<size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    std::vector<std::optional<std::string>> values_of_row;
    for (int c = 0; c < columns; ++c)
      values_of_row.push_back(PQgetisnull(r.get(), row, c) ? std::nullopt
                                                           : std::optional<std::string>(PQgetvalue(r.get(), row, c)));
    out.rows.push_back(std::move(values_of_row));
  }
  const char* affected = PQcmdTuples(r.get());
  if (affected && *affected) out.affected = std::stoll(affected);
  return out;
}

}  // namespace keel
