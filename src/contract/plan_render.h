// Rendering a Plan for people (aligned text, failing checks first) and for machines (JSON with
// the keys scenario, topology, execution_path, controls, metrics, failure_plan,
// refuses_to_own, checks — plus name, accepted, runtime ("built" | "not built") and, when
// built, runtime_command). Text and JSON say the same: a control not enforced by this build is
// marked so with its gap; a fault is `tested by <test>` or `not injected`.
#pragma once

#include <string>

#include "contract/plan.h"

namespace keel::contract {

std::string render_plan_text(const Plan& plan);
std::string render_plan_json(const Plan& plan);

}  // namespace keel::contract
