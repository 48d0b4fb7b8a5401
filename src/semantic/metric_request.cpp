#include "semantic/metric_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/closest_match.h"

namespace keel::semantic {
namespace {

constexpr size_t kMaxDimensions = 8;
constexpr size_t kMaxFilters = 16;
constexpr size_t kMaxFilterValues = 100;
constexpr size_t kMaxValueBytes = 256;

Limitation invalid(std::string message) { return {"invalid_request", std::move(message), {}}; }

// The names a person could have meant: the closest first, then the others, at most five.
std::vector<std::string> nearest(const std::string& word, std::vector<std::string> allowed) {
  std::string best = closest_match(word, allowed);
  std::vector<std::string> out;
  if (!best.empty()) out.push_back(best);
  for (auto& a : allowed)
    if (a != best && out.size() < 5) out.push_back(std::move(a));
  return out;
}

bool may(const std::vector<std::string>& required, const std::vector<std::string>& roles) {
  if (required.empty()) return true;
  return std::any_of(required.begin(), required.end(), [&](const std::string& r) {
    return std::find(roles.begin(), roles.end(), r) != roles.end();
  });
}

// "YYYY-MM-DD" naming a real day.
bool is_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

Result<std::string, Limitation> string_field(const Json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return invalid(fmt::format("'{}' is required and must be a string", key));
    return std::string();
  }
  if (!it->is_string()) return invalid(fmt::format("'{}' must be a string", key));
  return it->get<std::string>();
}

Result<MetricFilter, Limitation> parse_filter(const Json& f, size_t i) {
  const std::string where = fmt::format("filters[{}]", i);
  if (!f.is_object()) return invalid(where + " must be an object");
  for (auto it = f.begin(); it != f.end(); ++it) {
    if (it.key() != "dimension" && it.key() != "op" && it.key() != "value" && it.key() != "values")
      return invalid(fmt::format("{}: unknown field '{}'", where, it.key()));
  }
  MetricFilter filter;
  auto dimension = string_field(f, "dimension", true);
  if (!dimension.ok()) return invalid(where + ": " + dimension.error().message);
  filter.dimension = *dimension;
  auto op = string_field(f, "op", false);
  if (!op.ok()) return invalid(where + ": " + op.error().message);
  if (!op->empty()) filter.op = *op;
  if (filter.op != "eq" && filter.op != "ne" && filter.op != "in")
    return invalid(fmt::format("{}: op must be eq, ne or in, got '{}'", where, filter.op));
  if (auto v = f.find("value"); v != f.end()) filter.values.push_back(*v);
  if (auto v = f.find("values"); v != f.end()) {
    if (!v->is_array()) return invalid(where + ": 'values' must be an array");
    for (const auto& x : *v) filter.values.push_back(x);
  }
  const size_t n = filter.values.size();
  if (filter.op == "in" ? (n == 0 || n > kMaxFilterValues) : n != 1)
    return invalid(fmt::format("{}: {} takes {}", where, filter.op,
                               filter.op == "in" ? fmt::format("1 to {} values", kMaxFilterValues)
                                                 : std::string("one 'value'")));
  return filter;
}

// A filter value as text, checked against its dimension's type.
std::optional<std::string> typed_value(const Json& v, DimensionType type) {
  switch (type) {
    case DimensionType::string:
      if (v.is_string() && v.get_ref<const std::string&>().size() <= kMaxValueBytes)
        return v.get<std::string>();
      return std::nullopt;
    case DimensionType::integer:
      if (v.is_number_integer()) return v.dump();
      return std::nullopt;
    case DimensionType::number:
      if (v.is_number() && std::isfinite(v.get<double>())) return v.dump();
      return std::nullopt;
    case DimensionType::date:
      if (v.is_string() && is_date(v.get<std::string>())) return v.get<std::string>();
      return std::nullopt;
  }
  return std::nullopt;
}

// A metric with no roles is queried by nobody (the catalog must say who).
bool may_query(const Metric& m, const Asker& asker) {
  return !m.roles.empty() && may(m.roles, asker.roles);
}

std::vector<std::string> permitted_metrics(const MetricCatalog& c, const Asker& asker) {
  std::vector<std::string> out;
  for (const auto& m : c.metrics)
    if (may_query(m, asker)) out.push_back(m.name);
  return out;
}

std::vector<std::string> permitted_dimensions(const Metric& m, const Asker& asker) {
  std::vector<std::string> out;
  for (const auto& d : m.dimensions)
    if (may(d.roles, asker.roles)) out.push_back(d.name);
  return out;
}

Result<const Dimension*, Limitation> resolve_dimension(const Metric& m, const std::string& name,
                                                       const Asker& asker) {
  const Dimension* d = m.dimension(name);
  if (!d) {
    return Limitation{"unsupported_dimension",
                      fmt::format("metric '{}' has no dimension '{}'", m.name, name),
                      nearest(name, permitted_dimensions(m, asker))};
  }
  if (!may(d->roles, asker.roles)) {
    return Limitation{"not_permitted",
                      fmt::format("dimension '{}' of '{}' is restricted to roles the asker does not hold", name, m.name),
                      permitted_dimensions(m, asker)};
  }
  return d;
}

Result<ValidatedRequest::Filter, Limitation> resolve_filter(const Metric& m, const MetricFilter& f,
                                                            const Asker& asker) {
  if (std::find(m.filters.begin(), m.filters.end(), f.dimension) == m.filters.end()) {
    return Limitation{"unsupported_filter",
                      fmt::format("metric '{}' cannot be filtered by '{}'", m.name, f.dimension),
                      nearest(f.dimension, m.filters)};
  }
  auto d = resolve_dimension(m, f.dimension, asker);
  if (!d.ok()) return std::move(d).error();
  ValidatedRequest::Filter out{*d, f.op, {}};
  for (const auto& v : f.values) {
    auto text = typed_value(v, (*d)->type);
    if (!text) {
      return invalid(fmt::format("filter on '{}' takes {} values, got {}", f.dimension,
                                 dimension_type_name((*d)->type), v.dump()));
    }
    out.values.push_back(std::move(*text));
  }
  return out;
}

}  // namespace

Json Limitation::to_json() const {
  return {{"code", code}, {"message", message}, {"nearest", nearest}};
}

Result<MetricRequest, Limitation> parse_metric_request(const Json& j) {
  if (!j.is_object()) return invalid("a metric request is a JSON object");
  static const std::set<std::string> kFields = {"metric", "dimensions", "filters", "grain", "range"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kFields.count(it.key())) {
      std::vector<std::string> fields(kFields.begin(), kFields.end());
      return Limitation{"invalid_request", fmt::format("unknown field '{}'", it.key()),
                        nearest(it.key(), fields)};
    }
  }
  MetricRequest r;
  auto metric = string_field(j, "metric", true);
  if (!metric.ok()) return std::move(metric).error();
  r.metric = *metric;
  if (auto d = j.find("dimensions"); d != j.end() && !d->is_null()) {
    if (!d->is_array() || d->size() > kMaxDimensions ||
        !std::all_of(d->begin(), d->end(), [](const Json& x) { return x.is_string(); }))
      return invalid(fmt::format("'dimensions' must be an array of at most {} names", kMaxDimensions));
    for (const auto& x : *d) r.dimensions.push_back(x.get<std::string>());
  }
  if (auto f = j.find("filters"); f != j.end() && !f->is_null()) {
    if (!f->is_array() || f->size() > kMaxFilters)
      return invalid(fmt::format("'filters' must be an array of at most {} filters", kMaxFilters));
    for (size_t i = 0; i < f->size(); ++i) {
      auto filter = parse_filter((*f)[i], i);
      if (!filter.ok()) return std::move(filter).error();
      r.filters.push_back(std::move(*filter));
    }
  }
  auto grain = string_field(j, "grain", false);
  if (!grain.ok()) return std::move(grain).error();
  if (!grain->empty()) r.grain = *grain;
  if (auto range = j.find("range"); range != j.end() && !range->is_null()) {
    if (!range->is_object()) return invalid("'range' must be an object {from, to}");
    for (const char* key : {"from", "to"}) {
      auto v = string_field(*range, key, true);
      if (!v.ok() || !is_date(*v))
        return invalid(fmt::format("range.{} must be a date YYYY-MM-DD", key));
      (key[0] == 'f' ? r.from : r.to) = *v;
    }
    if (*r.from >= *r.to) return invalid("range.from must be before range.to (to is exclusive)");
  }
  return r;
}

Result<ValidatedRequest, Limitation> validate_metric_request(const MetricCatalog& catalog,
                                                             const MetricRequest& request,
                                                             const Asker& asker) {
  const Metric* m = catalog.metric(request.metric);
  if (!m) {
    return Limitation{"unsupported_metric",
                      fmt::format("the catalog (version {}) has no metric '{}'", catalog.version,
                                  request.metric),
                      nearest(request.metric, permitted_metrics(catalog, asker))};
  }
  if (!may_query(*m, asker)) {
    return Limitation{"not_permitted",
                      fmt::format("metric '{}' is restricted to roles the asker does not hold", m->name),
                      permitted_metrics(catalog, asker)};
  }
  ValidatedRequest v;
  v.metric = m;
  v.table = catalog.table(m->table);
  for (const auto& name : request.dimensions) {
    auto d = resolve_dimension(*m, name, asker);
    if (!d.ok()) return std::move(d).error();
    v.dimensions.push_back(*d);
  }
  for (const auto& f : request.filters) {
    auto filter = resolve_filter(*m, f, asker);
    if (!filter.ok()) return std::move(filter).error();
    v.filters.push_back(std::move(*filter));
  }
  if (request.grain) {
    auto g = time_grain_from(*request.grain);
    if (!g || std::find(m->grains.begin(), m->grains.end(), *g) == m->grains.end()) {
      std::vector<std::string> grains;
      for (auto x : m->grains) grains.emplace_back(time_grain_name(x));
      return Limitation{"unsupported_grain",
                        fmt::format("metric '{}' has no time grain '{}'", m->name, *request.grain),
                        nearest(*request.grain, grains)};
    }
    v.grain = g;
  }
  v.from = request.from;
  v.to = request.to;
  return v;
}

}  // namespace keel::semantic
