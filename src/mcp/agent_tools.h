// A durable-agent deployment's tools over MCP. Every call is a case of the single-call
// workflow, so it passes the same permission policy, approval gate, journal, idempotency key
// and outcome checks as Keel's own cases: connecting an outside client never weakens the
// contract.
//
// - Write tools take a required `idempotency_key` argument. The case id is derived from
//   (principal, tool, key), so a repeated call (a client retrying after a dropped stream)
//   finds the same case and returns its first outcome instead of acting again; reusing a key
//   with other arguments is an error.
// - A call that needs approval returns status "pending_approval" with the approval id and
//   never executes early; once an approver decides (`keel agent approve`), the same call
//   with the same key continues.
// - structuredContent is {"status": "done", "result": <the tool's output>} or
//   {"status": "pending_approval", "approval": {...}}; content carries a text copy.
// - Annotations come from the spec's effect class (readOnlyHint, destructiveHint,
//   idempotentHint); they are hints for clients, the server itself enforces the contract.
#pragma once

#include <memory>

#include "agent/agent_deployment.h"
#include "mcp/mcp_server.h"

namespace keel::mcp {

class AgentTools : public ToolProvider {
 public:
  AgentTools(agent::AgentDeployment& deployment, const contract::Spec& spec) : d_(deployment), spec_(spec) {}
  std::vector<nlohmann::json> list(const std::string& principal) override;
  Result<ToolCallOutcome> call(const std::string& principal, const std::string& name, const nlohmann::json& arguments) override;

 private:
  const contract::Tool* declared(const std::string& name) const;
  agent::AgentDeployment& d_;
  const contract::Spec& spec_;
};

}  // namespace keel::mcp
