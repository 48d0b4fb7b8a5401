// UTF-8 validation and repair for text that crosses a trust boundary (documents, requests,
// model output that is cut in the middle of a character).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

//! Byte offset of the first byte that does not start a well-formed UTF-8 sequence (overlongs,
//! surrogates and code points above U+10FFFF are ill-formed), or nullopt if all is valid.
std::optional<size_t> first_invalid_utf8(std::string_view text);

inline bool is_valid_utf8(std::string_view text) { return !first_invalid_utf8(text).has_value(); }

//! Copy with each ill-formed sequence replaced by U+FFFD.
std::string repair_utf8(std::string_view text);

//! Length of the longest prefix of `text` that does not end inside a multi-byte character:
//! what may be streamed now, keeping the tail until its remaining bytes arrive.
size_t complete_utf8_prefix(std::string_view text);

//! Number of code points (bytes that do not continue a sequence) in valid UTF-8.
size_t utf8_length(std::string_view text);

}  // namespace keel
