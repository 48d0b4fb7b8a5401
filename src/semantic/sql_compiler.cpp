#include "semantic/sql_compiler.h"

#include <fmt/format.h>

#include "core/hash.h"

namespace keel::semantic {
namespace {

std::string measure_sql(const Metric& m) {
  const std::string c = m.measure_column.empty() ? "" : quote_identifier(m.measure_column);
  switch (m.aggregate) {
    case Aggregate::sum: return "COALESCE(SUM(" + c + "), 0)";
    case Aggregate::count: return c.empty() ? "COUNT(*)" : "COUNT(" + c + ")";
    case Aggregate::average: return "AVG(" + c + ")";
    case Aggregate::min: return "MIN(" + c + ")";
    case Aggregate::max: return "MAX(" + c + ")";
    case Aggregate::count_distinct: return "COUNT(DISTINCT " + c + ")";
  }
  return "NULL";
}

}  // namespace

std::string quote_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

CompiledQuery compile_metric_query(const ValidatedRequest& v, const std::string& tenant,
                                   const CompileOptions& options) {
  CompiledQuery q;
  const Metric& m = *v.metric;
  auto param = [&q](std::string value) {
    q.params.push_back(std::move(value));
    return fmt::format("${}", q.params.size());
  };
  std::vector<std::string> select, where;
  if (options.tenant_filter && v.table)
    where.push_back(quote_identifier(v.table->tenant_column) + " = " + param(tenant));
  if (v.grain) {
    select.push_back(fmt::format("date_trunc('{}', {})::date AS \"period\"",
                                 time_grain_name(*v.grain), quote_identifier(m.time_column)));
    q.columns.push_back("period");
  }
  for (const Dimension* d : v.dimensions) {
    select.push_back(quote_identifier(d->column) + " AS " + quote_identifier(d->name));
    q.columns.push_back(d->name);
  }
  const size_t group_columns = select.size();
  select.push_back(measure_sql(m) + " AS \"value\"");
  q.columns.push_back("value");
  if (v.from) where.push_back(quote_identifier(m.time_column) + " >= " + param(*v.from) + "::date");
  if (v.to) where.push_back(quote_identifier(m.time_column) + " < " + param(*v.to) + "::date");
  for (const auto& f : v.filters) {
    const std::string column = quote_identifier(f.dimension->column);
    if (f.op == "in") {
      std::string list;
      for (const auto& value : f.values) list += (list.empty() ? "" : ", ") + param(value);
      where.push_back(column + " IN (" + list + ")");
    } else {
      where.push_back(column + (f.op == "ne" ? " <> " : " = ") + param(f.values[0]));
    }
  }
  std::string sql = "SELECT ";
  for (size_t i = 0; i < select.size(); ++i) sql += (i ? ", " : "") + select[i];
  sql += " FROM " + quote_identifier(m.table);
  for (size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : " WHERE ") + where[i];
  if (group_columns > 0) {
    std::string positions;
    for (size_t i = 1; i <= group_columns; ++i) positions += (i > 1 ? ", " : "") + std::to_string(i);
    sql += " GROUP BY " + positions + " ORDER BY " + positions;
  }
  sql += fmt::format(" LIMIT {}", options.max_rows + 1);
  q.sql = std::move(sql);
  q.sql_hash = sha256_hex(q.sql);
  return q;
}

}  // namespace keel::semantic
