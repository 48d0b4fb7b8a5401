#include "agent/policy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/json.h"

namespace keel::agent {

Result<Policy> Policy::from_spec(const contract::Spec& spec) {
  Policy p;
  for (const auto& principal : spec.authority.principals) {
    p.principals_[principal.id] = principal.roles;
    if (principal.public_key) p.public_keys_[principal.id] = *principal.public_key;
  }
  p.unsigned_approvals_allowed_ = spec.authority.unsigned_approvals == contract::UnsignedApprovals::allowed;
  for (const auto& tool : spec.authority.tools) {
    ToolRules tr;
    tr.approval = tool.approval;
    tr.remind_after_s = tool.approval_remind_after_s;
    tr.expire_after_s = tool.approval_expire_after_s;
    tr.approving_roles = tool.approving_roles();
    if (!tool.condition.empty()) {
      KEEL_ASSIGN_OR_RETURN(tr.condition, contract::Condition::parse(tool.condition));
    }
    p.tools_[tool.name] = std::move(tr);
    if (!tool.roles.empty()) {
      p.rules_.push_back({"tool:" + tool.name, false, tool.roles, {tool.name}, std::nullopt,
                          fmt::format("roles {} may call {}", fmt::join(tool.roles, ", "), tool.name)});
    }
  }
  for (const auto& r : spec.authority.policy) {
    Rule rule{r.id, r.effect == contract::PolicyEffect::forbid, r.roles, r.tools, std::nullopt, r.reason};
    if (!r.when.empty()) {
      KEEL_ASSIGN_OR_RETURN(rule.when, contract::Condition::parse(r.when));
    }
    p.rules_.push_back(std::move(rule));
  }
  return p;
}

std::vector<std::string> Policy::roles_of(const std::string& principal) const {
  auto it = principals_.find(principal);
  return it == principals_.end() ? std::vector<std::string>{} : it->second;
}

bool Policy::knows_principal(const std::string& principal) const { return principals_.count(principal) > 0; }

bool Policy::may_approve(const std::string& principal) const {
  const auto roles = roles_of(principal);
  if (std::find(roles.begin(), roles.end(), "approver") != roles.end()) return true;
  for (const auto& [name, t] : tools_) {
    if (t.approval != contract::Approval::none && may_approve(principal, name)) return true;
  }
  return false;
}

bool Policy::may_approve(const std::string& principal, const std::string& tool) const {
  auto it = tools_.find(tool);
  if (it == tools_.end() || !knows_principal(principal)) return false;
  const auto roles = roles_of(principal);
  return std::any_of(it->second.approving_roles.begin(), it->second.approving_roles.end(),
                     [&](const std::string& r) { return std::find(roles.begin(), roles.end(), r) != roles.end(); });
}

std::vector<std::string> Policy::approving_roles(const std::string& tool) const {
  auto it = tools_.find(tool);
  return it == tools_.end() ? std::vector<std::string>{} : it->second.approving_roles;
}

std::optional<Ed25519PublicKey> Policy::public_key(const std::string& principal) const {
  auto it = public_keys_.find(principal);
  if (it == public_keys_.end()) return std::nullopt;
  return it->second;
}

bool Policy::may_use(const std::string& principal, const std::string& tool) const {
  if (!tools_.count(tool) || !knows_principal(principal)) return false;
  const auto roles = roles_of(principal);
  for (const auto& rule : rules_) {
    if (rule.forbid) continue;
    bool tool_matches = std::find(rule.tools.begin(), rule.tools.end(), tool) != rule.tools.end() ||
                        std::find(rule.tools.begin(), rule.tools.end(), "*") != rule.tools.end();
    bool role_matches = rule.roles.empty() || std::any_of(rule.roles.begin(), rule.roles.end(), [&](const std::string& r) {
                          return std::find(roles.begin(), roles.end(), r) != roles.end();
                        });
    if (tool_matches && role_matches) return true;
  }
  return false;
}

Json Policy::variables(const std::string& principal, const Json& args, const Json& case_state) const {
  return {{"args", args}, {"case", case_state}, {"principal", {{"id", principal}, {"roles", roles_of(principal)}}}};
}

PolicyDecision Policy::decide(const std::string& principal, const std::string& tool, const Json& args,
                              const Json& case_state) const {
  if (!tools_.count(tool)) {
    return {false, "undeclared-tool", fmt::format("tool {} is not declared in the spec's authority.tools", tool)};
  }
  if (!knows_principal(principal)) {
    return {false, "unknown-principal", fmt::format("principal {} is not declared in the spec", principal)};
  }
  const auto roles = roles_of(principal);
  const Json vars = variables(principal, args, case_state);
  const Rule* permit = nullptr;
  for (const auto& rule : rules_) {
    bool tool_matches = std::find(rule.tools.begin(), rule.tools.end(), tool) != rule.tools.end() ||
                        std::find(rule.tools.begin(), rule.tools.end(), "*") != rule.tools.end();
    if (!tool_matches) continue;
    bool role_matches = rule.roles.empty() || std::any_of(rule.roles.begin(), rule.roles.end(), [&](const std::string& r) {
                          return std::find(roles.begin(), roles.end(), r) != roles.end();
                        });
    if (!role_matches) continue;
    bool holds = true;
    std::string condition_error;
    if (rule.when) {
      auto v = rule.when->evaluate(vars);
      if (v.ok()) {
        holds = *v;
      } else {
        holds = rule.forbid;  // an erring condition never grants
        condition_error = v.status().message();
      }
    }
    if (!holds) continue;
    if (rule.forbid) {
      std::string why = rule.reason.empty() ? fmt::format("rule {} forbids {}", rule.id, tool) : rule.reason;
      if (!condition_error.empty()) why += fmt::format(" (its condition could not be evaluated: {})", condition_error);
      return {false, rule.id, why};
    }
    if (!permit) permit = &rule;
  }
  if (permit) return {true, permit->id, permit->reason.empty() ? fmt::format("rule {} permits {}", permit->id, tool) : permit->reason};
  return {false, "default-deny",
          fmt::format("no rule permits {} (roles: {}) to call {}", principal, fmt::join(roles, ", "), tool)};
}

ApprovalNeed Policy::approval(const std::string& principal, const std::string& tool, const Json& args,
                              const Json& case_state) const {
  auto it = tools_.find(tool);
  if (it == tools_.end()) return {};
  const ToolRules& t = it->second;
  auto need = [&](std::string reason) {
    return ApprovalNeed{true, std::move(reason), t.remind_after_s, t.expire_after_s};
  };
  switch (t.approval) {
    case contract::Approval::none: return {};
    case contract::Approval::always:
      return need("the spec requires approval for every call");
    case contract::Approval::conditional: break;
  }
  if (!t.condition) return need("conditional approval without a condition");
  auto v = t.condition->evaluate(variables(principal, args, case_state));
  if (!v.ok())
    return need(fmt::format("the condition could not be evaluated ({}), so a human decides",
                            v.status().message()));
  if (*v) return need(fmt::format("{} holds", t.condition->text()));
  return {};
}

}  // namespace keel::agent
