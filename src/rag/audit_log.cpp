#include "rag/audit_log.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/result.h"

namespace keel::rag {
namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, ConnDeleter>;
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

constexpr const char* kAuditTable = R"sql(
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS keel_audit (
  id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  answer_id TEXT NOT NULL, principal TEXT NOT NULL, tenant TEXT NOT NULL, outcome TEXT NOT NULL,
  question_sha256 TEXT NOT NULL, rule TEXT NOT NULL, decision TEXT NOT NULL, detail TEXT NOT NULL);
CREATE OR REPLACE FUNCTION keel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'keel_audit is append-only'; END $$;
DROP TRIGGER IF EXISTS keel_audit_append_only ON keel_audit;
CREATE TRIGGER keel_audit_append_only BEFORE UPDATE OR DELETE ON keel_audit
  FOR EACH ROW EXECUTE FUNCTION keel_audit_append_only();
DROP TRIGGER IF EXISTS keel_audit_no_truncate ON keel_audit;
CREATE TRIGGER keel_audit_no_truncate BEFORE TRUNCATE ON keel_audit
  FOR EACH STATEMENT EXECUTE FUNCTION keel_audit_append_only();
)sql";

}  // namespace

Status install_audit_table(const std::string& owner_conninfo, const std::string& writer_role) {
  PgConn conn(PQconnectdb(owner_conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return Status::unavailable(fmt::format("cannot connect to the warehouse: {}", trimmed(PQerrorMessage(conn.get()))));
  std::unique_ptr<char, decltype(&PQfreemem)> role(
      PQescapeIdentifier(conn.get(), writer_role.c_str(), writer_role.size()), &PQfreemem);
  if (!role) return Status::invalid_argument("cannot quote the writer role's name");
  const std::string sql = std::string(kAuditTable) +
                          fmt::format("REVOKE ALL ON keel_audit FROM {0}; GRANT INSERT ON keel_audit TO {0};"
                                      "GRANT USAGE ON SEQUENCE keel_audit_id_seq TO {0};",
                                      role.get());
  PgResult r(PQexec(conn.get(), sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    return Status::internal(fmt::format("creating the audit table failed: {}", trimmed(PQerrorMessage(conn.get()))));
  return Status();
}

struct AuditLog::Impl {
  PgConn conn;
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::connect(const std::string& conninfo) {
  auto impl = std::make_unique<Impl>();
  impl->conn.reset(PQconnectdb(conninfo.c_str()));
  if (PQstatus(impl->conn.get()) != CONNECTION_OK)
    return Status::unavailable(
        fmt::format("cannot connect to the audit table: {}", trimmed(PQerrorMessage(impl->conn.get()))));
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

Status AuditLog::append(const AuditEntry& e) {
  PGconn* c = impl_->conn.get();
  if (PQstatus(c) != CONNECTION_OK) PQreset(c);  // a restarted server: try again
  if (PQstatus(c) != CONNECTION_OK)
    return Status::unavailable(fmt::format("the audit table is unreachable: {}", trimmed(PQerrorMessage(c))));
  const std::string decisions = e.decisions.dump();
  const char* values[] = {e.answer_id.c_str(), e.principal.c_str(), e.tenant.c_str(),
                          e.outcome.c_str(),   e.question_sha256.c_str(), decisions.c_str()};
  PgResult r(PQexecParams(c,
                          "INSERT INTO keel_audit (answer_id, principal, tenant, outcome, question_sha256, "
                          "rule, decision, detail) SELECT $1, $2, $3, $4, $5, d->>'rule', d->>'decision', "
                          "coalesce(d->>'detail', '') FROM jsonb_array_elements($6::jsonb) d",
                          6, nullptr, values, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    const std::string message = trimmed(PQerrorMessage(c));
    if (PQstatus(c) != CONNECTION_OK)
      return Status::unavailable(fmt::format("the audit table is unreachable: {}", message));
    return Status::internal(fmt::format("writing the audit failed: {}", message));
  }
  return Status();
}

}  // namespace keel::rag
