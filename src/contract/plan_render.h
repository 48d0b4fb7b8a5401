// Rendering a Plan for people (aligned text, failing checks first) and for machines (JSON with
// the keys scenario, topology, execution_path, controls, metrics, failure_plan,
// refuses_to_own, checks — plus name and accepted).
#pragma once

#include <string>

#include "contract/plan.h"

namespace keel::contract {

std::string render_plan_text(const Plan& plan);
std::string render_plan_json(const Plan& plan);

}  // namespace keel::contract
