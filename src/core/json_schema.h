// JSON Schema validation (the subset tool contracts use, draft 2020-12 semantics): type (one or
// a list; "integer" is a number without a fraction), properties, required,
// additionalProperties (false or a schema), enum, const, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, minLength, maxLength (in code points), pattern, items, minItems, maxItems,
// uniqueItems, allOf, anyOf, oneOf, not. Annotations (title, description, default, examples,
// format, $schema, $id) are accepted and ignored. Patterns use RE2 syntax (ECMA-262 without
// backreferences and lookaround), run in linear time, and are at most 4 KiB.
//
// Contract: validate() never throws; each violation is reported with the JSON path of the
// offending value ("$.items[2].sku: ..."), at most max_errors of them. check_schema() rejects
// a schema that uses a keyword outside the subset, so a schema never silently means less than
// it says.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace keel {

struct SchemaViolation {
  std::string path;     //!< "$", "$.amount", "$.lines[0].sku"
  std::string message;  //!< "must be a number, not a string"
};

//! Violations of `schema` by `value` (empty: valid).
std::vector<SchemaViolation> validate_json(const Json& schema, const Json& value, size_t max_errors = 8);

//! The violations joined into one message ("" when valid).
std::string describe_violations(const std::vector<SchemaViolation>& violations);

//! Ok when `schema` only uses supported keywords with values of the right types.
[[nodiscard]] Status check_schema(const Json& schema);

}  // namespace keel
