#include "semantic/metric_catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/file_io.h"
#include "core/hash.h"
#include "core/yaml_reader.h"

namespace keel::semantic {
namespace {

constexpr uint64_t kMaxCatalogBytes = 4 << 20;

template <typename E>
struct Named {
  const char* name;
  E value;
};

constexpr Named<Aggregate> kAggregates[] = {
    {"sum", Aggregate::sum},         {"count", Aggregate::count},
    {"average", Aggregate::average}, {"min", Aggregate::min},
    {"max", Aggregate::max},         {"count_distinct", Aggregate::count_distinct}};
constexpr Named<DimensionType> kDimensionTypes[] = {{"string", DimensionType::string},
                                                    {"integer", DimensionType::integer},
                                                    {"number", DimensionType::number},
                                                    {"date", DimensionType::date}};
constexpr Named<TimeGrain> kGrains[] = {{"day", TimeGrain::day},
                                        {"week", TimeGrain::week},
                                        {"month", TimeGrain::month},
                                        {"quarter", TimeGrain::quarter},
                                        {"year", TimeGrain::year}};

template <typename E, size_t N>
std::string_view name_of(const Named<E> (&table)[N], E value) {
  for (const auto& n : table)
    if (n.value == value) return n.name;
  return "?";
}

template <typename E, size_t N>
std::optional<E> read_named(YamlReader& r, const Named<E> (&table)[N], const YAML::Node& node,
                            const std::string& path) {
  auto s = r.string(node, path);
  if (!s) return std::nullopt;
  std::string choices;
  for (const auto& n : table) {
    if (*s == n.name) return n.value;
    choices += (choices.empty() ? "" : ", ") + std::string(n.name);
  }
  r.error(path, node, fmt::format("expected one of {}, got '{}'", choices, *s));
  return std::nullopt;
}

// A plain SQL identifier: the compiler quotes it anyway, but a catalog is read by people too.
std::optional<std::string> sql_name(YamlReader& r, const YAML::Node& node, const std::string& path) {
  auto s = r.string(node, path);
  if (!s) return std::nullopt;
  const bool ok = !s->empty() && s->size() <= 63 && (std::islower(static_cast<unsigned char>((*s)[0])) || (*s)[0] == '_') &&
                  std::all_of(s->begin(), s->end(), [](unsigned char c) {
                    return std::islower(c) || std::isdigit(c) || c == '_';
                  });
  if (!ok) {
    r.error(path, node, fmt::format("expected a plain SQL name ([a-z_][a-z0-9_]*), got '{}'", *s));
    return std::nullopt;
  }
  return s;
}

Dimension read_dimension(YamlReader& r, const YAML::Node& node, const std::string& path) {
  Dimension d;
  auto m = r.item(node, path);
  if (!m.valid()) return d;
  if (auto v = sql_name(r, m.require("name"), path + ".name")) d.name = *v;
  d.column = d.name;
  if (auto v = sql_name(r, m.get("column"), path + ".column")) d.column = *v;
  if (auto v = read_named(r, kDimensionTypes, m.get("type"), path + ".type")) d.type = *v;
  d.roles = r.string_list(m.get("roles"), path + ".roles");
  m.finish();
  return d;
}

void read_measure(YamlReader& r, const YAML::Node& node, const std::string& path, Metric* metric) {
  auto m = r.map(node, path, 0);
  if (!m.valid()) {
    if (!node.IsDefined()) r.errors.push_back({path, 0, "required key is missing"});
    return;
  }
  if (auto v = read_named(r, kAggregates, m.require("aggregate"), path + ".aggregate"))
    metric->aggregate = *v;
  if (auto v = sql_name(r, m.get("column"), path + ".column")) metric->measure_column = *v;
  if (metric->aggregate != Aggregate::count && !m.get("column").IsDefined()) {
    r.errors.push_back({path + ".column", m.line(), "required unless the aggregate is count"});
  }
  m.finish();
}

Metric read_metric(YamlReader& r, const YAML::Node& node, const std::string& path) {
  Metric metric;
  auto m = r.item(node, path);
  if (!m.valid()) return metric;
  if (auto v = sql_name(r, m.require("name"), path + ".name")) metric.name = *v;
  if (auto v = r.string(m.get("description"), path + ".description")) metric.description = *v;
  if (auto v = sql_name(r, m.require("table"), path + ".table")) metric.table = *v;
  read_measure(r, m.get("measure"), path + ".measure", &metric);
  if (auto v = r.string(m.get("unit"), path + ".unit")) metric.unit = *v;
  if (auto v = sql_name(r, m.require("time_column"), path + ".time_column")) metric.time_column = *v;
  r.list(m.require("grains"), path + ".grains", [&](const YAML::Node& n, const std::string& p) {
    if (auto g = read_named(r, kGrains, n, p)) metric.grains.push_back(*g);
  });
  std::set<std::string> names;
  r.list(m.get("dimensions"), path + ".dimensions", [&](const YAML::Node& n, const std::string& p) {
    Dimension d = read_dimension(r, n, p);
    if (d.name.empty()) return;
    if (!names.insert(d.name).second) r.error(p + ".name", n, fmt::format("duplicate dimension '{}'", d.name));
    metric.dimensions.push_back(std::move(d));
  });
  r.list(m.get("filters"), path + ".filters", [&](const YAML::Node& n, const std::string& p) {
    auto f = r.string(n, p);
    if (!f) return;
    if (!names.count(*f)) r.error(p, n, fmt::format("'{}' is not a dimension of this metric", *f));
    metric.filters.push_back(*f);
  });
  metric.roles = r.string_list(m.require("roles"), path + ".roles");
  if (auto v = r.string(m.get("classification"), path + ".classification")) metric.classification = *v;
  m.finish();
  return metric;
}

}  // namespace

std::string_view aggregate_name(Aggregate a) { return name_of(kAggregates, a); }
std::string_view dimension_type_name(DimensionType t) { return name_of(kDimensionTypes, t); }
std::string_view time_grain_name(TimeGrain g) { return name_of(kGrains, g); }
std::optional<TimeGrain> time_grain_from(std::string_view name) {
  for (const auto& n : kGrains)
    if (name == n.name) return n.value;
  return std::nullopt;
}

const Dimension* Metric::dimension(std::string_view name) const {
  for (const auto& d : dimensions)
    if (d.name == name) return &d;
  return nullptr;
}

const Metric* MetricCatalog::metric(std::string_view name) const {
  for (const auto& m : metrics)
    if (m.name == name) return &m;
  return nullptr;
}

const CatalogTable* MetricCatalog::table(std::string_view name) const {
  for (const auto& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> MetricCatalog::masked_fields(const std::vector<std::string>& roles) const {
  std::vector<std::string> out;
  for (const auto& f : restricted_fields) {
    const bool may = std::any_of(f.roles.begin(), f.roles.end(), [&](const std::string& r) {
      return std::find(roles.begin(), roles.end(), r) != roles.end();
    });
    if (!may) out.push_back(f.name);
  }
  return out;
}

std::vector<std::string> MetricCatalog::metric_names() const {
  std::vector<std::string> out;
  for (const auto& m : metrics) out.push_back(m.name);
  return out;
}

Result<MetricCatalog> parse_metric_catalog(std::string_view yaml, std::string_view file) {
  KEEL_ASSIGN_OR_RETURN(YAML::Node root, parse_yaml(yaml, file));
  MetricCatalog catalog;
  catalog.sha256 = sha256_hex(yaml);
  YamlReader r;
  auto top = r.map(root, "", 1);
  if (!top.valid()) r.errors.push_back({"", 1, "a metric catalog is a mapping (keel_catalog: 1, version: ..., tables: ..., metrics: ...)"});
  if (auto v = r.integer(top.require("keel_catalog"), "keel_catalog", 1); v && *v != 1)
    r.error("keel_catalog", top.get("keel_catalog"), "this keel reads catalog format 1");
  if (auto v = r.string(top.require("version"), "version")) catalog.version = *v;
  auto tables = r.map(top.require("tables"), "tables", top.line());
  if (tables.valid()) {
    for (auto it = root["tables"].begin(); it != root["tables"].end(); ++it) {
      const std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
      const std::string p = "tables." + name;
      if (!sql_name(r, it->first, p)) continue;
      auto t = r.map(tables.get(name), p, tables.line());
      CatalogTable table{name, ""};
      if (auto v = sql_name(r, t.require("tenant_column"), p + ".tenant_column")) table.tenant_column = *v;
      t.finish();
      catalog.tables.push_back(std::move(table));
    }
  }
  tables.finish();
  std::set<std::string> names;
  r.list(top.require("metrics"), "metrics", [&](const YAML::Node& n, const std::string& p) {
    Metric metric = read_metric(r, n, p);
    if (metric.name.empty()) return;
    if (!names.insert(metric.name).second)
      r.error(p + ".name", n, fmt::format("duplicate metric '{}'", metric.name));
    if (!metric.table.empty() && !catalog.table(metric.table))
      r.error(p + ".table", n, fmt::format("table '{}' is not declared under tables", metric.table));
    catalog.metrics.push_back(std::move(metric));
  });
  std::set<std::string> fields;
  r.list(top.get("restricted_fields"), "restricted_fields", [&](const YAML::Node& n, const std::string& p) {
    auto m = r.item(n, p);
    if (!m.valid()) return;
    RestrictedField field;
    if (auto v = sql_name(r, m.require("name"), p + ".name")) field.name = *v;
    field.roles = r.string_list(m.require("roles"), p + ".roles");
    m.finish();
    if (field.name.empty()) return;
    if (!fields.insert(field.name).second)
      r.error(p + ".name", n, fmt::format("duplicate restricted field '{}'", field.name));
    catalog.restricted_fields.push_back(std::move(field));
  });
  top.finish();
  KEEL_RETURN_IF_ERROR(r.status(file));
  return catalog;
}

Result<MetricCatalog> load_metric_catalog(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxCatalogBytes));
  return parse_metric_catalog(text, path);
}

}  // namespace keel::semantic
