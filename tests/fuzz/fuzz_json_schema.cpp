// Fuzz target: JSON Schema checking and validation of untrusted schemas and values (schemas may
// come from outside MCP servers; values are request bodies). Input: a JSON array [schema, value],
// or a schema alone, validated against a few fixed values.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "core/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = keel::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!input.ok()) return 0;
  auto run = [](const keel::Json& schema, const keel::Json& value) {
    if (!keel::check_schema(schema).ok()) return;
    (void)keel::describe_violations(keel::validate_json(schema, value));
  };
  if (input->is_array() && input->size() == 2) {
    run((*input)[0], (*input)[1]);
  } else {
    for (const char* value : {"null", "0", "-1.5", "\"text\"", "[1,2,2]", "{\"a\":{\"b\":[]}}"}) {
      run(*input, *keel::parse_json(value));
    }
  }
  return 0;
}
