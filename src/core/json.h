// JSON for Keel: nlohmann::json behind a few helpers that never throw.
//
// Contract:
// - parse_json() turns untrusted text into a value or an invalid_argument Status naming the
//   byte offset of the problem; it never throws and rejects input nested deeper than
//   max_depth (a guard against stack exhaustion) and invalid UTF-8.
// - dump_json() never throws: invalid UTF-8 inside strings is replaced with U+FFFD.
// - canonical_json() is a stable serialization (sorted keys, no spaces) for hashing.
// This header is heavy (nlohmann/json.hpp): include it from .cpp files, and from headers only
// when a type in them really is a Json value. Headers that only pass JSON around can include
// <nlohmann/json_fwd.hpp>.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"

namespace keel {

using Json = nlohmann::json;

inline constexpr int kDefaultJsonMaxDepth = 64;

[[nodiscard]] Result<Json> parse_json(std::string_view text, int max_depth = kDefaultJsonMaxDepth);

//! Serializes without throwing; indent < 0 gives the compact form.
std::string dump_json(const Json& value, int indent = -1);

//! Sorted keys, no whitespace: equal values give equal strings.
std::string canonical_json(const Json& value);

}  // namespace keel
