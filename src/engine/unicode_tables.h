// Internal to engine/unicode.cpp: the generated tables (see tools/gen_unicode_data.py).
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::engine::unicode_tables {

enum CategoryClass : uint8_t {
  kUndefined = 0,
  kLetter,
  kNumber,
  kPunctuation,
  kSymbol,
  kMark,
  kSeparator,
  kControl,
};

struct CategoryRange {
  uint32_t first;
  uint32_t last;
  CategoryClass category;
};

struct CodepointPair {
  uint32_t from;
  uint32_t to;
};

extern const CategoryRange kCategoryRanges[];  // sorted, covering 0..0x10FFFF
extern const size_t kCategoryRangeCount;
extern const CodepointPair kLowercase[];  // sorted by `from`
extern const size_t kLowercaseCount;
extern const CodepointPair kNfdFirst[];  // sorted by `from`
extern const size_t kNfdFirstCount;

}  // namespace keel::engine::unicode_tables
