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
// - Threads: list() reads only what the deployment fixed when it opened (spec, registry,
//   policy) and runs concurrently with anything; call() is serialized, since the journal,
//   runner and system of record are single-threaded (and two calls with one key must not both
//   start a case).
#pragma once

#include <memory>
#include <mutex>

#include "agent/agent_deployment.h"
#include "mcp/mcp_server.h"

namespace keel::mcp {

//! Approvals over MCP (agent_approval_tools.cpp), offered only when `principals_authenticated`
//! (HTTP with --tokens: each principal is proven by its bearer token; never over stdio or
//! --as): list_pending_approvals, approve_pending_action and deny_pending_action, listed for and
//! callable by principals holding a role that may approve (forbidden otherwise). A decision
//! goes through CaseRunner::decide() as a bearer-token-authenticated one, so the tool's
//! approving roles, self-approval, the arguments' hash and the journal record are as for a
//! signed decision from the command line.
class AgentTools : public ToolProvider {
 public:
  AgentTools(agent::AgentDeployment& deployment, const contract::Spec& spec, bool principals_authenticated = false)
      : d_(deployment), spec_(spec), approvals_(principals_authenticated) {}
  std::vector<nlohmann::json> list(const std::string& principal) override;
  Result<ToolCallOutcome> call(const std::string& principal, const std::string& name, const nlohmann::json& arguments) override;

 private:
  const contract::Tool* declared(const std::string& name) const;
  Result<ToolCallOutcome> call_locked(const std::string& principal, const std::string& name, const nlohmann::json& arguments);
  //! Resumes the case of a repeated call; a finished case answers with its first outcome.
  Result<agent::RunOutcome> resume_with_first_outcome(const std::string& case_id);
  //! What the client is told about the case that ran the call `name`.
  Result<ToolCallOutcome> outcome_of_case(const std::string& name, const std::string& case_id,
                                          const agent::RunOutcome& outcome);
  //! The approval a call waits for: its id, why it is needed and how to approve it.
  Result<ToolCallOutcome> pending_approval_outcome(const std::string& name, const std::string& case_id,
                                                   int64_t pending_step);
  //! The approval tools `principal` sees (none unless approvals_ and it may approve).
  std::vector<nlohmann::json> approval_tools(const std::string& principal) const;
  bool is_approval_tool(const std::string& name) const;
  Result<ToolCallOutcome> call_approval_tool(const std::string& principal, const std::string& name,
                                             const nlohmann::json& arguments);
  std::mutex calls_;
  agent::AgentDeployment& d_;
  const contract::Spec& spec_;
  const bool approvals_;
};

}  // namespace keel::mcp
