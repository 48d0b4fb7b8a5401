// The "single-call" workflow: one tool call as a case of its own, for callers outside Keel's
// workflows (an MCP client). It goes through the same policy, approval gate, journal and
// outcome checks as any step; a repeated call (same case id) returns the first outcome.
// Input: {"tool": name, "arguments": {...}}.
#pragma once

#include "agent/workflow.h"

namespace keel::agent {

inline constexpr std::string_view kSingleCallWorkflow = "single-call";
WorkflowDefinition single_call_workflow();

}  // namespace keel::agent
