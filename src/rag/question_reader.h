// Reads a typed metric request out of a question's words, for questions asked without one:
// the stand-in, until constrained decoding lands, for a model that writes the typed request.
// It writes no SQL and invents no name: every name it puts in a request is the catalog's, and
// the request is validated like any other (a name the asker may not use is a limitation).
//
// Contract:
// - read_metric_request() picks the metric whose name words the question uses ("revenue",
//   "open tickets"; its unit stands in when no other metric has it: "how many orders"); an
//   average, minimum or maximum must be asked for as one ("average salary", not "the salary of
//   the lead"). None: nullopt.
// - Dimensions: "by D", "per D", "for each D", "across Ds" for a dimension D of that metric.
// - Grain: "by/per month", "monthly", "daily", "weekly", "quarterly", "yearly" when the metric
//   has that grain (a grain it lacks is passed through: the catalog answers with a limitation).
// - Range: "in 2026", "in Q2 2026", "in March 2026", "from 2026-01-01 to 2026-04-01".
// - Filters: "<D> <value>" or "<value> <D>" for a filterable dimension D ("region north", "north
//   region"), and "customer <Name Words>" / "from <Name Words>" for a dimension named customer:
//   the value is the question's text, bound as a parameter like any value.
// - asks_for_a_number() is true for "how many", "how much", "total", "average", "number of",
//   "sum of": a question a document should not answer with prose.
#pragma once

#include <optional>
#include <string_view>

#include "core/json.h"
#include "semantic/metric_catalog.h"

namespace keel::rag {

std::optional<Json> read_metric_request(const semantic::MetricCatalog& catalog, std::string_view question);
bool asks_for_a_number(std::string_view question);

}  // namespace keel::rag
