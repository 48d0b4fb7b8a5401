// Permissions for agent actions, the Cedar model: rules permit or forbid principals (by role)
// to call tools, under conditions on the arguments, the case's state and the principal.
// Forbid wins over permit; without a matching permit the answer is deny. A tool's `roles` in
// the spec are permit rules ("tool:<name>"); `authority.policy` adds permit and forbid rules.
//
// Contract:
// - decide() names the rule that made the decision (or "default-deny"), so every decision can
//   be journaled and explained.
// - A condition that cannot be evaluated (a type error) never grants: a forbid rule whose
//   condition errs matches (deny), a permit rule whose condition errs does not.
// - Undeclared tools are denied whatever the rules say.
// - approval() says whether a call needs a human: always, or when the tool's condition holds
//   (an erring condition asks for approval), with the tool's reminder and expiry deadlines.
// - Who may give that approval: a principal holding one of the tool's approving roles; the
//   principal's registered public key (if any) is what its approvals must be signed with
//   (agent/approval.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "contract/condition.h"
#include "contract/spec.h"
#include "core/result.h"
#include "core/signature.h"

namespace keel::agent {

struct PolicyDecision {
  bool allowed = false;
  std::string rule;    //!< the deciding rule's id, or "default-deny" / "undeclared-tool"
  std::string reason;  //!< human-readable
};

struct ApprovalNeed {
  bool required = false;
  std::string reason;  //!< "always", "args.amount > 100 holds", ...
  //! The tool's deadlines from the spec: remind reviewers after, expire (deny) after.
  std::optional<double> remind_after_s, expire_after_s;
};

class Policy {
 public:
  [[nodiscard]] static Result<Policy> from_spec(const contract::Spec& spec);

  PolicyDecision decide(const std::string& principal, const std::string& tool, const nlohmann::json& args,
                        const nlohmann::json& case_state) const;
  ApprovalNeed approval(const std::string& principal, const std::string& tool, const nlohmann::json& args,
                        const nlohmann::json& case_state) const;
  //! Whether some permit rule lets `principal`'s roles call `tool` at all (conditions aside):
  //! what a tool listing shows; calls still go through decide().
  bool may_use(const std::string& principal, const std::string& tool) const;
  //! Whether `principal` may approve or deny some tool's calls (holds one of the approving
  //! roles of a tool that needs approval, or the `approver` role).
  bool may_approve(const std::string& principal) const;
  //! Whether `principal` holds one of `tool`'s approving roles (the spec's approver_roles,
  //! default [approver]); false for undeclared tools and principals.
  bool may_approve(const std::string& principal, const std::string& tool) const;
  //! The roles that may approve `tool`'s calls.
  std::vector<std::string> approving_roles(const std::string& tool) const;
  //! The key `principal`'s approvals must be signed with; nullopt when none is registered.
  std::optional<Ed25519PublicKey> public_key(const std::string& principal) const;
  //! authority.unsigned_approvals: allowed.
  bool unsigned_approvals_allowed() const { return unsigned_approvals_allowed_; }
  bool knows_principal(const std::string& principal) const;
  std::vector<std::string> roles_of(const std::string& principal) const;

 private:
  struct Rule {
    std::string id;
    bool forbid = false;
    std::vector<std::string> roles;
    std::vector<std::string> tools;
    std::optional<contract::Condition> when;
    std::string reason;
  };
  struct ToolRules {
    contract::Approval approval = contract::Approval::none;
    std::optional<contract::Condition> condition;
    std::optional<double> remind_after_s, expire_after_s;
    std::vector<std::string> approving_roles;
  };
  nlohmann::json variables(const std::string& principal, const nlohmann::json& args, const nlohmann::json& case_state) const;

  std::vector<Rule> rules_;
  std::map<std::string, ToolRules> tools_;
  std::map<std::string, std::vector<std::string>> principals_;
  std::map<std::string, Ed25519PublicKey> public_keys_;
  bool unsigned_approvals_allowed_ = false;
};

}  // namespace keel::agent
