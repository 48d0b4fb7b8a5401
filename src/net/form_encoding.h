// application/x-www-form-urlencoded bodies and query strings (what an HTML form posts).
//
// Contract: parse_form() decodes "+" as a space and %XX escapes; a bad escape ("%G1", "%4")
// is invalid_argument. Names may repeat; pairs keep their order. It never reads past the text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace keel::net {

using FormFields = std::vector<std::pair<std::string, std::string>>;

[[nodiscard]] Result<FormFields> parse_form(std::string_view body);
//! The first value of `name`, if any.
std::optional<std::string> form_value(const FormFields& fields, std::string_view name);

}  // namespace keel::net
