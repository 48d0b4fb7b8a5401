// Fuzz target: the scenario spec parser and, for specs that parse, the checks and the plan.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "contract/checks.h"
#include "contract/plan.h"
#include "contract/plan_render.h"
#include "contract/spec_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = keel::contract::parse_spec_text(text, "/nonexistent");
  if (parsed.ok()) {
    auto plan = keel::contract::build_plan(*parsed, keel::contract::run_checks(*parsed));
    (void)keel::contract::render_plan_json(plan);
    (void)keel::contract::render_plan_text(plan);
  }
  return 0;
}
