#include "semantic/warehouse.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>

namespace keel::semantic {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// PostgreSQL type oids (pg_type.dat) of the values a metric query returns.
constexpr Oid kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

Json value_of(const PGresult* r, int row, int column) {
  if (PQgetisnull(r, row, column)) return nullptr;
  const char* text = PQgetvalue(r, row, column);
  switch (PQftype(r, column)) {
    case kInt2:
    case kInt4:
    case kInt8: return std::strtoll(text, nullptr, 10);
    case kFloat4:
    case kFloat8:
    case kNumeric: return std::strtod(text, nullptr);
    default: return std::string(text);
  }
}

}  // namespace

struct Warehouse::Impl {
  PGconn* conn = nullptr;
  ~Impl() {
    if (conn) PQfinish(conn);
  }

  //! A failed statement: unavailable when the connection is gone, internal otherwise.
  Status failure(const std::string& what) {
    std::string message = trimmed(PQerrorMessage(conn));
    if (PQstatus(conn) != CONNECTION_OK)
      return Status::unavailable(fmt::format("the warehouse is unreachable ({}): {}", what, message));
    return Status::internal(fmt::format("{} failed: {}", what, message));
  }

  Result<PgResult> exec(const std::string& sql, const std::vector<std::string>& params,
                        ExecStatusType expected, const std::string& what) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
    if (!r || PQresultStatus(r.get()) != expected) {
      const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      Status s = state && std::string_view(state) == "42501"  // insufficient_privilege
                     ? Status::permission_denied(fmt::format(
                           "the warehouse refused {}: {}", what, trimmed(PQerrorMessage(conn))))
                     : failure(what);
      if (PQstatus(conn) == CONNECTION_OK) PgResult(PQexec(conn, "ROLLBACK"));
      return s;
    }
    return r;
  }

  //! One statement in its own read-only transaction with the asker's tenant and roles set.
  Result<PgResult> read(const std::string& sql, const std::vector<std::string>& params,
                        const std::string& tenant, const std::vector<std::string>& roles,
                        const std::string& what);
};

Warehouse::Warehouse(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Warehouse::~Warehouse() = default;

Result<std::unique_ptr<Warehouse>> Warehouse::connect(const std::string& conninfo) {
  auto impl = std::make_unique<Impl>();
  impl->conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(impl->conn) != CONNECTION_OK) {
    return Status::unavailable(
        fmt::format("cannot connect to the warehouse: {}", trimmed(PQerrorMessage(impl->conn))));
  }
  return std::unique_ptr<Warehouse>(new Warehouse(std::move(impl)));
}

Result<PgResult> Warehouse::Impl::read(const std::string& sql, const std::vector<std::string>& params,
                                       const std::string& tenant, const std::vector<std::string>& roles,
                                       const std::string& what) {
  if (PQstatus(conn) != CONNECTION_OK) PQreset(conn);  // a restarted server: try again
  if (PQstatus(conn) != CONNECTION_OK) return failure("reconnecting");
  KEEL_ASSIGN_OR_RETURN(auto begin, exec("BEGIN READ ONLY", {}, PGRES_COMMAND_OK, "BEGIN"));
  KEEL_ASSIGN_OR_RETURN(auto set, exec("SELECT set_config('keel.tenant', $1, true), "
                                       "set_config('keel.roles', $2, true)",
                                       {tenant, Json(roles).dump()}, PGRES_TUPLES_OK,
                                       "setting the tenant"));
  KEEL_ASSIGN_OR_RETURN(auto r, exec(sql, params, PGRES_TUPLES_OK, what));
  KEEL_ASSIGN_OR_RETURN(auto commit, exec("COMMIT", {}, PGRES_COMMAND_OK, "COMMIT"));
  return r;
}

Result<MetricRows> Warehouse::run(const CompiledQuery& query, const std::string& tenant,
                                  int64_t max_rows) {
  KEEL_ASSIGN_OR_RETURN(auto r, impl_->read(query.sql, query.params, tenant, {}, "the metric query"));
  MetricRows out;
  for (int c = 0; c < PQnfields(r.get()); ++c) out.columns.emplace_back(PQfname(r.get(), c));
  const int rows = PQntuples(r.get());
  out.truncated = rows > max_rows;
  for (int row = 0; row < rows && row < max_rows; ++row) {
    std::vector<Json> values;
    for (int c = 0; c < PQnfields(r.get()); ++c) values.push_back(value_of(r.get(), row, c));
    out.rows.push_back(std::move(values));
  }
  return out;
}

}  // namespace keel::semantic

namespace keel::semantic {
namespace {

// PostgreSQL's text form of a TEXT[] ({a,b,"c d"}) read into strings.
std::vector<std::string> text_array(std::string_view text) {
  std::vector<std::string> out;
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return out;
  std::string item;
  bool quoted = false, any = false;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 2 < text.size()) item += text[++i];
      else if (c == '"') quoted = false;
      else item += c;
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      out.push_back(std::move(item));
      item.clear();
      any = false;
    } else {
      item += c;
      any = true;
    }
  }
  if (any || !item.empty()) out.push_back(std::move(item));
  return out;
}

}  // namespace

Status Warehouse::check_row_security(const std::vector<std::string>& tables) {
  Impl& i = *impl_;
  KEEL_ASSIGN_OR_RETURN(auto role, i.exec("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
                                          {}, PGRES_TUPLES_OK, "reading the role"));
  const std::string user = PQgetvalue(role.get(), 0, 0);
  if (std::string_view(PQgetvalue(role.get(), 0, 1)) == "t" || std::string_view(PQgetvalue(role.get(), 0, 2)) == "t")
    return Status::failed_precondition(fmt::format(
        "the warehouse role {} bypasses row-level security (it is a superuser or has BYPASSRLS): connect as a "
        "role the tables' policies bind",
        user));
  for (const auto& table : tables) {
    KEEL_ASSIGN_OR_RETURN(auto r, i.exec("SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) = "
                                         "current_user FROM pg_class c WHERE c.oid = to_regclass($1)",
                                         {table}, PGRES_TUPLES_OK, "reading a table's row security"));
    if (PQntuples(r.get()) == 0) return Status::not_found(fmt::format("the warehouse has no table {}", table));
    const bool enabled = std::string_view(PQgetvalue(r.get(), 0, 0)) == "t";
    const bool forced = std::string_view(PQgetvalue(r.get(), 0, 1)) == "t";
    const bool owner = std::string_view(PQgetvalue(r.get(), 0, 2)) == "t";
    if (!enabled)
      return Status::failed_precondition(fmt::format(
          "table {} has no row-level security: ALTER TABLE {} ENABLE ROW LEVEL SECURITY and add a policy on "
          "current_setting('keel.tenant')",
          table, table));
    if (owner && !forced)
      return Status::failed_precondition(fmt::format(
          "{} owns table {}, whose row-level security is not forced: ALTER TABLE {} FORCE ROW LEVEL SECURITY, "
          "or connect as another role",
          user, table, table));
  }
  return Status();
}

Result<std::vector<WarehouseDocument>> Warehouse::documents(const std::string& tenant,
                                                            const std::vector<std::string>& roles,
                                                            DocumentSource source, int64_t max_documents) {
  const char* relation = source == DocumentSource::policy_view ? "documents_readable" : "documents";
  KEEL_ASSIGN_OR_RETURN(
      auto r, impl_->read(fmt::format("SELECT tenant_id, doc_id, title, body, roles, classification FROM "
                                      "{} ORDER BY tenant_id, doc_id LIMIT $1",
                                      relation),
                          {std::to_string(max_documents)}, tenant, roles, "reading the documents"));
  std::vector<WarehouseDocument> out;
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    WarehouseDocument d;
    d.tenant = PQgetvalue(r.get(), row, 0);
    d.id = PQgetvalue(r.get(), row, 1);
    d.title = PQgetvalue(r.get(), row, 2);
    d.body = PQgetvalue(r.get(), row, 3);
    d.roles = text_array(PQgetvalue(r.get(), row, 4));
    d.classification = PQgetvalue(r.get(), row, 5);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace keel::semantic
