// Approvals over MCP: the approval tools of AgentTools (agent_tools.h). A reviewer's client,
// authenticated by its bearer token, lists what waits for it and decides; the decision is
// journaled by CaseRunner::decide() like a signed one from `keel agent approve`.
#include <fmt/format.h>

#include <algorithm>

#include "agent/approval.h"
#include "core/json.h"
#include "mcp/agent_tools.h"

namespace keel::mcp {
namespace {

constexpr const char* kListPending = "list_pending_approvals";
constexpr const char* kApprove = "approve_pending_action";
constexpr const char* kDeny = "deny_pending_action";

Json text_error(const std::string& text) {
  return {{"content", Json::array({{{"type", "text"}, {"text", text}}})}, {"isError", true}};
}

Json structured(const Json& value, const std::string& text) {
  return {{"content", Json::array({{{"type", "text"}, {"text", text}}})},
          {"structuredContent", value}};
}

Json decision_schema(bool approve) {
  Json properties = {
      {"case",
       {{"type", "string"}, {"description", "the case id (list_pending_approvals shows it)"}}},
      {"step",
       {{"type", "integer"}, {"minimum", 0}, {"description", "the step waiting for a decision"}}},
      {"args_sha256",
       {{"type", "string"},
        {"pattern", "^[0-9a-f]{64}$"},
        {"description",
         "SHA-256 of the arguments you reviewed; refused if the pending action's differ"}}},
      {approve ? "note" : "reason", {{"type", "string"}, {"maxLength", 4000}}}};
  Json required = approve ? Json::array({"case", "step", "args_sha256"})
                          : Json::array({"case", "step", "reason"});
  return {{"type", "object"},
          {"properties", properties},
          {"required", required},
          {"additionalProperties", false}};
}

}  // namespace

bool AgentTools::is_approval_tool(const std::string& name) const {
  if (!approvals_ || declared(name)) return false;  // a tool the spec declares keeps its name
  return name == kListPending || name == kApprove || name == kDeny;
}

std::vector<Json> AgentTools::approval_tools(const std::string& principal) const {
  std::vector<Json> out;
  if (!approvals_ || !d_.policy().may_approve(principal)) return out;
  Json annotations_read = {{"readOnlyHint", true},
                           {"destructiveHint", false},
                           {"idempotentHint", true},
                           {"openWorldHint", false}};
  Json annotations_decide = {{"readOnlyHint", false},
                             {"destructiveHint", false},
                             {"idempotentHint", false},
                             {"openWorldHint", false}};
  for (const char* name : {kListPending, kApprove, kDeny}) {
    if (!is_approval_tool(name)) continue;
    if (std::string(name) == kListPending) {
      out.push_back(
          {{"name", name},
           {"title", name},
           {"description",
            "Actions waiting for your decision, with their arguments, the arguments' SHA-256, why "
            "they need a human and the evidence gathered."},
           {"inputSchema", {{"type", "object"}, {"properties", Json::object()}}},
           {"annotations", annotations_read}});
    } else {
      const bool approve = std::string(name) == kApprove;
      out.push_back(
          {{"name", name},
           {"title", name},
           {"description",
            approve
                ? "Approve a pending action you reviewed (bound to its arguments' SHA-256). "
                  "Recorded in your name: your bearer token authenticates you."
                : "Deny a pending action; the case continues without it. Recorded in your name."},
           {"inputSchema", decision_schema(approve)},
           {"annotations", annotations_decide}});
    }
  }
  return out;
}

Result<ToolCallOutcome> AgentTools::call_approval_tool(const std::string& principal,
                                                       const std::string& name, const Json& args) {
  if (!d_.policy().may_approve(principal)) {
    ToolCallOutcome f;
    f.forbidden = true;
    f.forbidden_reason = fmt::format("{} holds no role that may approve actions",
                                     principal.empty() ? "this client" : principal);
    return f;
  }
  if (name == kListPending) {
    KEEL_ASSIGN_OR_RETURN(auto pending, d_.runner().pending());
    Json items = Json::array();
    for (const auto& p : pending) {
      if (!d_.policy().may_approve(principal, p.tool)) continue;
      items.push_back({{"case", p.case_id},
                       {"step", p.step},
                       {"tool", p.tool},
                       {"args", p.args},
                       {"args_sha256", p.args_sha256},
                       {"why", p.reason},
                       {"evidence", p.evidence}});
    }
    return ToolCallOutcome{structured({{"pending", items}}, dump_json(items))};
  }
  const bool approve = name == kApprove;
  if (!args.is_object() || !args.contains("case") || !args["case"].is_string() ||
      !args.contains("step") || !args["step"].is_number_integer()) {
    return ToolCallOutcome{
        text_error("pass the pending action's case (a string) and step (an integer)")};
  }
  agent::ApprovalStatement st;
  st.case_id = args["case"].get<std::string>();
  st.step = args["step"].get<int64_t>();
  if (args.contains("args_sha256")) {
    if (!args["args_sha256"].is_string())
      return ToolCallOutcome{text_error("args_sha256 must be a string")};
    st.args_sha256 = args["args_sha256"].get<std::string>();
  }
  const char* text_key = approve ? "note" : "reason";
  if (args.contains(text_key)) {
    if (!args[text_key].is_string())
      return ToolCallOutcome{text_error(fmt::format("{} must be a string", text_key))};
    st.note = args[text_key].get<std::string>();
  }
  auto request = d_.runner().pending_request(st.case_id, st.step);
  if (!request.ok()) return ToolCallOutcome{text_error(request.status().message())};
  st.tool = request->tool;
  st.approve = approve;
  st.principal = principal;
  agent::ApprovalSubmission submission;
  submission.statement = st;
  submission.authentication = agent::ApproverAuthentication::bearer_token;
  submission.channel = "mcp";
  Status decided = d_.runner().decide(submission);
  if (decided.code() == StatusCode::permission_denied) {
    ToolCallOutcome f;
    f.forbidden = true;
    f.forbidden_reason = decided.message();
    return f;
  }
  if (!decided.ok()) return ToolCallOutcome{text_error(decided.message())};
  Json out = {{"case", st.case_id},
              {"step", st.step},
              {"tool", st.tool},
              {"decision", approve ? "granted" : "denied"},
              {"by", principal}};
  return ToolCallOutcome{structured(
      out, fmt::format("step {} of case {} ({}) {} by {}; the caller's next call with the same "
                       "idempotency_key continues",
                       st.step, st.case_id, st.tool, approve ? "approved" : "denied", principal))};
}

}  // namespace keel::mcp
