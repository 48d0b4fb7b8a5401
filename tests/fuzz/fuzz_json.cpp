// Fuzz target: JSON parsing of untrusted bodies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = keel::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (j.ok()) (void)keel::canonical_json(*j);
  return 0;
}
