#include "samples/warehouse.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <memory>

namespace keel::samples {
namespace {

// Every value comes from the day, the order's number in the day and the tenant's index, so the
// warehouse is the same on every run and a test can compute any figure independently.
constexpr const char* kSchema = R"sql(
SET client_min_messages = warning;
DROP TABLE IF EXISTS orders, tickets, employees;
CREATE TABLE orders (
  tenant_id TEXT NOT NULL, ordered_at DATE NOT NULL, region TEXT NOT NULL, product TEXT NOT NULL,
  customer_name TEXT NOT NULL, amount NUMERIC(12, 2) NOT NULL);
CREATE TABLE tickets (
  tenant_id TEXT NOT NULL, opened_at DATE NOT NULL, priority TEXT NOT NULL);
CREATE TABLE employees (
  tenant_id TEXT NOT NULL, name TEXT NOT NULL, department TEXT NOT NULL, hired_at DATE NOT NULL,
  salary NUMERIC(12, 2) NOT NULL);
CREATE TEMP TABLE sample_tenants (tenant TEXT, idx INT, customers TEXT[]);
INSERT INTO sample_tenants VALUES
  ('acme', 0, ARRAY['Borealis Foods', 'Cobalt Mining', 'Dunmore Textiles']),
  ('globex', 1, ARRAY['Evergreen Health', 'Fjord Shipping', 'Granite Labs']),
  ('initech', 2, ARRAY['Helios Solar', 'Ironwood Legal', 'Juniper Retail']);
INSERT INTO orders
SELECT t.tenant, DATE '2026-01-01' + d, (ARRAY['north', 'south', 'east', 'west'])[1 + (d + n + t.idx) % 4],
       (ARRAY['widget', 'gadget', 'gizmo'])[1 + (d * 7 + n * 3 + t.idx) % 3],
       t.customers[1 + (d * 5 + n + t.idx) % 3],
       ((d * 37 + n * 101 + t.idx * 53) % 990 + 10) + ((d + n) % 100) / 100.0
FROM sample_tenants t, generate_series(0, 364) d, generate_series(1, 1 + (t.idx + 1)) n;
INSERT INTO tickets
SELECT t.tenant, DATE '2026-01-01' + d, (ARRAY['low', 'normal', 'high', 'urgent'])[1 + (d * 3 + t.idx) % 4]
FROM sample_tenants t, generate_series(0, 364, 2 + t.idx) d;
INSERT INTO employees
SELECT t.tenant, 'employee ' || t.tenant || ' ' || e,
       (ARRAY['sales', 'support', 'engineering'])[1 + (e + t.idx) % 3],
       DATE '2020-01-01' + (e * 97 + t.idx * 11) % 2000, 40000 + (e * 1237 + t.idx * 311) % 50000
FROM sample_tenants t, generate_series(1, 30) e;
DROP TABLE sample_tenants;
)sql";

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

std::vector<std::string> sample_tenants() { return {"acme", "globex", "initech"}; }

std::vector<std::string> sample_customers(const std::string& tenant) {
  if (tenant == "acme") return {"Borealis Foods", "Cobalt Mining", "Dunmore Textiles"};
  if (tenant == "globex") return {"Evergreen Health", "Fjord Shipping", "Granite Labs"};
  if (tenant == "initech") return {"Helios Solar", "Ironwood Legal", "Juniper Retail"};
  return {};
}

Status create_sample_warehouse(const std::string& owner_conninfo, const std::string& reader_role) {
  std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb(owner_conninfo.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return Status::unavailable(fmt::format("cannot connect to the warehouse: {}",
                                           PQerrorMessage(conn.get())));
  // The role name is the caller's and goes into SQL text: quote it as an identifier.
  std::unique_ptr<char, decltype(&PQfreemem)> role(
      PQescapeIdentifier(conn.get(), reader_role.c_str(), reader_role.size()), &PQfreemem);
  if (!role) return Status::invalid_argument("cannot quote the reader role's name");
  const std::string r = role.get();
  std::string sql = kSchema;
  for (const char* table : {"orders", "tickets", "employees"}) {
    sql += fmt::format(
        "ALTER TABLE {0} ENABLE ROW LEVEL SECURITY; ALTER TABLE {0} FORCE ROW LEVEL SECURITY;"
        "CREATE POLICY tenant_isolation ON {0} USING (tenant_id = current_setting('keel.tenant', "
        "true));\n",
        table);
  }
  sql += fmt::format(
      "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {0}) THEN "
      "CREATE ROLE {1} LOGIN NOBYPASSRLS; END IF; END $$;"
      "ALTER ROLE {1} NOBYPASSRLS NOSUPERUSER;"
      "GRANT SELECT ON orders, tickets TO {1};"
      "GRANT SELECT (tenant_id, name, department, hired_at) ON employees TO {1};",
      std::unique_ptr<char, decltype(&PQfreemem)>(
          PQescapeLiteral(conn.get(), reader_role.c_str(), reader_role.size()), &PQfreemem)
          .get(),
      r);
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK)
    return Status::internal(fmt::format("creating the sample warehouse failed: {}",
                                        PQerrorMessage(conn.get())));
  return Status();
}

}  // namespace keel::samples
