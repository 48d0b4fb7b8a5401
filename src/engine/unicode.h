// Unicode helpers for the tokenizers: UTF-8 decoding that never fails, character classes as
// llama.cpp's tokenizers see them, lower-casing and the first code point of NFD.
//
// Contract: classes come from the generated tables (Unicode 14, tools/gen_unicode_data.py);
// whitespace is Unicode White_Space (U+001C..U+001F are not whitespace, as in llama.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::engine {

enum class CharClass : uint8_t {
  undefined = 0,
  letter,
  number,
  punctuation,
  symbol,
  mark,
  separator,
  control,
};

CharClass char_class(uint32_t cp);
bool is_whitespace(uint32_t cp);
inline bool is_letter(uint32_t cp) { return char_class(cp) == CharClass::letter; }
inline bool is_number(uint32_t cp) { return char_class(cp) == CharClass::number; }
//! First code point of the lower-case form (identity when there is none).
uint32_t to_lower(uint32_t cp);
//! First code point of the canonical decomposition (identity when there is none).
uint32_t nfd_first(uint32_t cp);

//! Decodes UTF-8; each byte that does not start a well-formed sequence becomes U+FFFD.
std::vector<uint32_t> utf8_to_codepoints(std::string_view text);
void append_utf8(uint32_t cp, std::string& out);
std::string codepoints_to_utf8(const uint32_t* cps, size_t n);

//! Byte length of the UTF-8 character starting with `lead` (1..4; 1 for stray bytes).
inline size_t utf8_length_from_lead(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

}  // namespace keel::engine
