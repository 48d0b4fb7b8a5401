#include "agent/single_call.h"

#include "core/json.h"

namespace keel::agent {

WorkflowDefinition single_call_workflow() {
  return {std::string(kSingleCallWorkflow), 1, "one tool call with the full contract",
          [](WorkflowContext& ctx) -> Result<Json> {
            const Json& in = ctx.input();
            return ctx.call_tool(in.value("tool", ""), in.value("arguments", Json::object()));
          }};
}

}  // namespace keel::agent
