#include "mcp/agent_tools.h"

#include <fmt/format.h>

#include <random>

#include "agent/single_call.h"
#include "core/hash.h"
#include "core/json.h"

namespace keel::mcp {
namespace {

Json text_result(const std::string& text, bool is_error) {
  Json r = {{"content", Json::array({{{"type", "text"}, {"text", text}}})}};
  if (is_error) r["isError"] = true;
  return r;
}

Json structured_result(const Json& structured, const std::string& text) {
  return {{"content", Json::array({{{"type", "text"}, {"text", text}}})}, {"structuredContent", structured}};
}

std::string random_hex(size_t bytes) {
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

ToolCallOutcome forbidden_outcome(const std::string& principal, const std::string& name) {
  ToolCallOutcome f;
  f.forbidden = true;
  f.forbidden_reason = fmt::format("{} may not use {}", principal.empty() ? "this client" : principal, name);
  return f;
}

// A write runs as the case its idempotency key names (the same key and call find the first
// outcome); the key is taken out of `args`. nullopt when the key is missing or not 8 to 200
// characters.
std::optional<std::string> case_for_write(const std::string& principal, const std::string& name, Json& args) {
  if (!args.contains("idempotency_key") || !args["idempotency_key"].is_string() ||
      args["idempotency_key"].get<std::string>().size() < 8 || args["idempotency_key"].get<std::string>().size() > 200) {
    return std::nullopt;
  }
  std::string key = args["idempotency_key"].get<std::string>();
  args.erase("idempotency_key");
  return "mcp-" + sha256_hex(principal + "\x1f" + name + "\x1f" + key).substr(0, 32);
}

}  // namespace

const contract::Tool* AgentTools::declared(const std::string& name) const {
  for (const auto& t : spec_.authority.tools) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<Json> AgentTools::list(const std::string& principal) {
  std::vector<Json> out;
  for (const auto& spec_tool : spec_.authority.tools) {
    agent::Tool* tool = d_.tools().find(spec_tool.name);
    if (!tool || !d_.policy().may_use(principal, spec_tool.name)) continue;
    const auto& def = tool->definition();
    const bool write = spec_tool.effect != contract::Effect::read;
    Json input = def.input_schema;
    if (write) {
      input["properties"]["idempotency_key"] = {
          {"type", "string"}, {"minLength", 8}, {"maxLength", 200},
          {"description", "A key unique to this action; repeat it to retry safely (the first outcome is returned)."}};
      Json required = input.value("required", Json::array());
      required.push_back("idempotency_key");
      input["required"] = required;
    }
    Json output = {{"type", "object"},
                   {"properties",
                    {{"status", {{"type", "string"}, {"enum", {"done", "pending_approval"}}}},
                     {"result", def.output_schema},
                     {"approval", {{"type", "object"}}}}},
                   {"required", {"status"}}};
    std::string description = def.description.empty() ? spec_tool.description : def.description;
    if (spec_tool.approval == contract::Approval::always) description += " Needs a human approval.";
    if (spec_tool.approval == contract::Approval::conditional) description += " Needs a human approval when " + spec_tool.condition + ".";
    out.push_back({{"name", spec_tool.name},
                   {"title", spec_tool.name},
                   {"description", description},
                   {"inputSchema", input},
                   {"outputSchema", output},
                   {"annotations",
                    {{"readOnlyHint", !write},
                     {"destructiveHint", spec_tool.effect == contract::Effect::irreversible},
                     {"idempotentHint", !write || spec_tool.idempotency == contract::Idempotency::required},
                     {"openWorldHint", false}}}});
  }
  for (auto& t : approval_tools(principal)) out.push_back(std::move(t));
  return out;
}

Result<ToolCallOutcome> AgentTools::call(const std::string& principal, const std::string& name, const Json& arguments) {
  std::lock_guard lock(calls_);
  return call_locked(principal, name, arguments);
}

Result<ToolCallOutcome> AgentTools::call_locked(const std::string& principal, const std::string& name, const Json& arguments) {
  if (is_approval_tool(name)) return call_approval_tool(principal, name, arguments);
  const contract::Tool* spec_tool = declared(name);
  if (!spec_tool || !d_.tools().find(name)) return Status::not_found(fmt::format("no tool {}", name));
  if (!d_.policy().may_use(principal, name)) return forbidden_outcome(principal, name);
  const bool write = spec_tool->effect != contract::Effect::read;
  Json args = arguments;
  std::string case_id;
  if (write) {
    std::optional<std::string> keyed = case_for_write(principal, name, args);
    if (!keyed) {
      return ToolCallOutcome{text_result(fmt::format("{} changes the system of record: pass an idempotency_key (8 to 200 characters) "
                                                     "that you reuse when you retry this action",
                                                     name),
                                         true)};
    }
    case_id = *keyed;
  } else {
    case_id = "mcp-read-" + random_hex(12);
  }
  Json input = {{"tool", name}, {"arguments", args}};

  auto existing = d_.journal().get_case(case_id);
  agent::RunOutcome outcome;
  if (existing.ok()) {
    if (canonical_json(existing->input) != canonical_json(input)) {
      return ToolCallOutcome{text_result("this idempotency_key was already used for a different call; use a new key for a new action", true)};
    }
    KEEL_ASSIGN_OR_RETURN(outcome, resume_with_first_outcome(case_id));
  } else if (existing.status().code() == StatusCode::not_found) {
    KEEL_ASSIGN_OR_RETURN(outcome, d_.runner().start(case_id, std::string(agent::kSingleCallWorkflow), input, principal));
  } else {
    return existing.status();
  }
  return outcome_of_case(name, case_id, outcome);
}

Result<agent::RunOutcome> AgentTools::resume_with_first_outcome(const std::string& case_id) {
  KEEL_ASSIGN_OR_RETURN(agent::RunOutcome outcome, d_.runner().resume(case_id));
  if (outcome.state == agent::CaseState::completed || outcome.state == agent::CaseState::failed) {
    // The first outcome, from the journal.
    KEEL_ASSIGN_OR_RETURN(auto records, d_.journal().read(case_id));
    for (const auto& r : records) {
      if (r.kind == agent::record::case_completed) outcome.result = r.data.value("result", Json());
      if (r.kind == agent::record::case_failed) outcome.message = r.data.value("error", "");
    }
  }
  return outcome;
}

Result<ToolCallOutcome> AgentTools::outcome_of_case(const std::string& name, const std::string& case_id,
                                                    const agent::RunOutcome& outcome) {
  if (outcome.paused) {
    return ToolCallOutcome{text_result(fmt::format("temporarily unavailable ({}); call again with the same idempotency_key", outcome.message), true)};
  }
  switch (outcome.state) {
    case agent::CaseState::completed:
      return ToolCallOutcome{structured_result({{"status", "done"}, {"result", outcome.result}}, dump_json(outcome.result))};
    case agent::CaseState::failed: {
      std::string message = outcome.message;
      if (auto p = message.find(": "); message.rfind("case ", 0) == 0 && p != std::string::npos) message = message.substr(p + 2);
      return ToolCallOutcome{text_result(message, true)};
    }
    case agent::CaseState::waiting_approval:
      return pending_approval_outcome(name, case_id, outcome.pending_step);
    case agent::CaseState::running:
      break;
  }
  return ToolCallOutcome{text_result(outcome.message, true)};
}

Result<ToolCallOutcome> AgentTools::pending_approval_outcome(const std::string& name, const std::string& case_id,
                                                             int64_t pending_step) {
  KEEL_ASSIGN_OR_RETURN(auto pending, d_.runner().pending());
  Json approval = {{"id", fmt::format("{}/{}", case_id, pending_step)}, {"case", case_id}, {"step", pending_step}};
  for (const auto& p : pending) {
    if (p.case_id == case_id) {
      approval["args_sha256"] = p.args_sha256;
      approval["why"] = p.reason;
    }
  }
  approval["approve_with"] = fmt::format("keel agent approve {} {} --key <approver key file> --args-sha256 {}", case_id,
                                         pending_step, approval.value("args_sha256", "<hash>"));
  std::string text = fmt::format("{} is pending approval ({}); nothing was executed. Approval id {}. Call again with the same "
                                 "idempotency_key once it is decided.",
                                 name, approval.value("why", "the spec requires it"), approval["id"].get<std::string>());
  return ToolCallOutcome{structured_result({{"status", "pending_approval"}, {"approval", approval}}, text)};
}

}  // namespace keel::mcp
