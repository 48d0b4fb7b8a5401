#include "agent/approval.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "contract/spec.h"
#include "core/file_io.h"
#include "core/key_file.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/utf8.h"

namespace keel::agent {

std::string ApprovalStatement::canonical() const {
  return std::string(kApprovalStatementTag) + "\n" + canonical_json(to_json());
}

Json ApprovalStatement::to_json() const {
  return {{"case", case_id},
          {"step", step},
          {"tool", tool},
          {"args_sha256", args_sha256},
          {"decision", approve ? "approve" : "deny"},
          {"principal", principal},
          {"time_ns", time_ns},
          {"note", note}};
}

std::string_view authentication_name(ApproverAuthentication a) {
  switch (a) {
    case ApproverAuthentication::signature:
      return "ed25519-signature";
    case ApproverAuthentication::bearer_token:
      return "bearer-token";
    case ApproverAuthentication::none:
      return "unsigned";
  }
  return "?";
}

ApprovalSubmission sign_approval(ApprovalStatement statement, const Ed25519SecretKey& secret,
                                 std::string channel) {
  ApprovalSubmission s;
  s.signature = ed25519_sign(statement.canonical(), secret);
  s.statement = std::move(statement);
  s.authentication = ApproverAuthentication::signature;
  s.channel = std::move(channel);
  return s;
}

Status authenticate_approval(const ApprovalSubmission& submission, const Policy& policy) {
  const ApprovalStatement& st = submission.statement;
  for (const std::string* field :
       {&st.case_id, &st.tool, &st.args_sha256, &st.principal, &st.note}) {
    // The canonical form replaces invalid UTF-8, so two different statements could sign alike.
    if (!is_valid_utf8(*field))
      return Status::invalid_argument("an approval's fields must be valid UTF-8");
  }
  const std::optional<Ed25519PublicKey> key = policy.public_key(st.principal);
  switch (submission.authentication) {
    case ApproverAuthentication::signature: {
      if (!submission.signature)
        return Status::invalid_argument("a signed approval without its signature");
      if (!key) {
        return Status::permission_denied(fmt::format(
            "{} has no public_key in the spec, so a signature in their name proves nothing; "
            "register the key's public half (`keel agent keygen` prints the line) in "
            "authority.principals",
            st.principal));
      }
      if (!ed25519_verify(st.canonical(), *submission.signature, *key).ok()) {
        return Status::permission_denied(
            fmt::format("the signature does not verify under {}'s registered key ({}): it was made "
                        "with another key, or over other values (case, step, tool, arguments' "
                        "hash, decision, time); nothing was recorded",
                        st.principal, contract::format_public_key(*key).substr(0, 20) + "..."));
      }
      return Status();
    }
    case ApproverAuthentication::bearer_token:
      return Status();  // the channel authenticated the principal (its caller vouches)
    case ApproverAuthentication::none:
      if (key) {
        return Status::permission_denied(
            fmt::format("{} has a registered key: an approval in their name must be signed with it "
                        "(--key FILE); an unsigned one is refused",
                        st.principal));
      }
      if (!policy.unsigned_approvals_allowed()) {
        return Status::permission_denied(
            fmt::format("{} has no registered key and the spec refuses unsigned approvals: "
                        "register one (`keel agent keygen --principal {}`, then its public_key in "
                        "authority.principals) and sign with --key, or set "
                        "authority.unsigned_approvals: allowed",
                        st.principal, st.principal));
      }
      return Status();
  }
  return Status::internal("unknown approver authentication");
}

Status verify_recorded_signature(const Json& record) {
  if (!record.is_object() || !record.contains("signature") || !record["signature"].is_string()) {
    return Status::not_found("the decision carries no signature");
  }
  if (!record.contains("statement") || !record["statement"].is_string() ||
      !record.contains("public_key") || !record["public_key"].is_string()) {
    return Status::permission_denied("the decision's signature comes without its statement or key");
  }
  auto signature = parse_ed25519_signature_hex(record["signature"].get<std::string>());
  auto key = contract::parse_public_key(record["public_key"].get<std::string>());
  if (!signature.ok() || !key.ok())
    return Status::permission_denied("the decision's signature or key is malformed");
  return ed25519_verify(record["statement"].get<std::string>(), *signature, *key);
}

// ---- key files --------------------------------------------------------------------------------

namespace {

constexpr KeyFileKind kApproverKeyFile{"keel_approver_key", "principal", "keel agent keygen"};

}  // namespace

Result<ApproverKey> read_approver_key(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(Ed25519KeyFile file, read_ed25519_key_file(path, kApproverKeyFile));
  return ApproverKey{std::move(file.owner), file.keys, file.demo_only};
}

Status write_approver_key(const std::string& path, const ApproverKey& key) {
  return write_ed25519_key_file(
      path, kApproverKeyFile, Ed25519KeyFile{key.principal, key.keys, key.demo_only},
      key.demo_only ? "DEMO ONLY: this key is public (committed with an example); anyone can sign "
                      "with it. Never register it in a real deployment."
                    : "Secret: whoever holds this file can approve in this principal's name. Keep "
                      "it private; register only public_key in the spec.");
}

}  // namespace keel::agent
