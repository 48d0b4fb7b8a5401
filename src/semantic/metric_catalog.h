// The semantic layer's metric catalog: the governed definitions a number in an answer must come
// from. A versioned YAML file names each metric's table, measure, time column and grains, the
// dimensions it may be grouped and filtered by, and the roles that may query the metric and each
// dimension. The model never writes SQL: the SQL compiler (sql_compiler.h) takes identifiers
// only from this catalog.
//
// Contract:
// - load_metric_catalog() reads the file through the YAML reader: unknown keys, wrong types,
//   duplicate names, identifiers that are not plain SQL names ([a-z_][a-z0-9_]*), a metric
//   naming a table the catalog does not declare, a filter naming no dimension: invalid_argument
//   naming every error with its key path and line. A missing file is not_found.
// - A loaded catalog is immutable; `version` and `sha256` (of the file's bytes) identify it,
//   and every answer names both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::semantic {

enum class Aggregate { sum, count, average, min, max, count_distinct };
enum class DimensionType { string, integer, number, date };
enum class TimeGrain { day, week, month, quarter, year };

std::string_view aggregate_name(Aggregate a);
std::string_view dimension_type_name(DimensionType t);
std::string_view time_grain_name(TimeGrain g);
std::optional<TimeGrain> time_grain_from(std::string_view name);

struct CatalogTable {
  std::string name;           //!< SQL table (or view) name
  std::string tenant_column;  //!< the column holding the row's tenant
};

struct Dimension {
  std::string name;    //!< what a request names
  std::string column;  //!< the SQL column
  DimensionType type = DimensionType::string;
  std::vector<std::string> roles;  //!< empty: every role that may query the metric
};

struct Metric {
  std::string name;
  std::string description;
  std::string table;
  Aggregate aggregate = Aggregate::sum;
  std::string measure_column;  //!< "" for count
  std::string unit;            //!< e.g. "EUR", "orders"
  std::string time_column;
  std::vector<TimeGrain> grains;
  std::vector<Dimension> dimensions;
  std::vector<std::string> filters;  //!< dimension names a request may filter on
  std::vector<std::string> roles;    //!< roles that may query it; empty: nobody
  //! The data class of its figures (`classification:`; a spec's class name, default internal):
  //! the route that composes an answer from them must be approved for it.
  std::string classification = "internal";

  const Dimension* dimension(std::string_view name) const;
};

//! A field (a column, or a "name: value" line in a document) only some roles may read: the
//! others see it masked in passages, and the warehouse grants them no access to the column.
struct RestrictedField {
  std::string name;
  std::vector<std::string> roles;  //!< roles that may read it
};

struct MetricCatalog {
  std::string version;
  std::string sha256;  //!< of the file's bytes
  std::vector<CatalogTable> tables;
  std::vector<Metric> metrics;
  std::vector<RestrictedField> restricted_fields;

  //! The restricted fields none of `roles` may read.
  std::vector<std::string> masked_fields(const std::vector<std::string>& roles) const;

  const Metric* metric(std::string_view name) const;
  const CatalogTable* table(std::string_view name) const;
  std::vector<std::string> metric_names() const;
};

[[nodiscard]] Result<MetricCatalog> load_metric_catalog(const std::string& path);
//! The same over text (tests, fuzzing); `file` names it in errors.
[[nodiscard]] Result<MetricCatalog> parse_metric_catalog(std::string_view yaml,
                                                         std::string_view file);

}  // namespace keel::semantic
