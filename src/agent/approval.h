// Approvals people can trust. A decision on a pending action is a statement: "principal P
// approves (or denies) step S of case C, tool T, with arguments whose SHA-256 is H, at time W,
// with note N". The case runner records a statement only once it knows P made it, by one of:
//
// - signature: P signed the statement's canonical bytes with the Ed25519 key whose public half
//   the spec registers for P (authority.principals[].public_key). The key pair lives in a key
//   file (`keel agent keygen`) that `keel agent approve|deny --key FILE` reads.
// - bearer_token: the statement arrived over a channel that authenticated P itself (MCP over
//   HTTP with --tokens, the token mapped to P). The channel vouches; nothing is signed.
// - none: accepted only for a principal without a registered key, and only when the spec says
//   authority.unsigned_approvals: allowed. A principal with a key must always sign (or use an
//   authenticated channel), so a registered key cannot be bypassed by leaving it out.
//
// The canonical statement is kApprovalStatementTag, a newline, and the canonical JSON (sorted
// keys, no spaces, core/json.h) of {args_sha256, case, decision, note, principal, step, time_ns,
// tool}: every field is bound and none can run into another, whatever characters it holds.
//
// Contract: these functions only build, sign, check and read; the runner (case_runner.h)
// compares a statement with the request it answers and journals it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agent/policy.h"
#include "core/result.h"
#include "core/signature.h"

namespace keel::agent {

inline constexpr std::string_view kApprovalStatementTag = "keel-approval-v1";

struct ApprovalStatement {
  std::string case_id;
  int64_t step = -1;
  std::string tool;
  std::string args_sha256;  //!< of the arguments the approver reviewed
  bool approve = true;      //!< false: deny
  std::string principal;    //!< who decides
  int64_t time_ns = 0;      //!< when they decided, ns since the epoch
  std::string note;         //!< the approver's note (approve) or reason (deny)

  //! The exact bytes that are signed.
  std::string canonical() const;
  nlohmann::json to_json() const;
};

enum class ApproverAuthentication { signature, bearer_token, none };
//! "ed25519-signature", "bearer-token", "unsigned".
std::string_view authentication_name(ApproverAuthentication a);

struct ApprovalSubmission {
  ApprovalStatement statement;
  ApproverAuthentication authentication = ApproverAuthentication::none;
  std::optional<Ed25519Signature> signature;  //!< set for ApproverAuthentication::signature
  std::string channel;  //!< where it came from, for the record: "keel agent approve", "mcp"
};

//! A submission authenticated by P's signature over the statement.
ApprovalSubmission sign_approval(ApprovalStatement statement, const Ed25519SecretKey& secret,
                                 std::string channel);

//! Whether the submission proves that statement.principal made it, under the spec's rules
//! (the comment above): ok, or permission_denied with a message that says what to do. Does
//! not check roles or the request (the runner does).
[[nodiscard]] Status authenticate_approval(const ApprovalSubmission& submission,
                                           const Policy& policy);

//! Re-checks a journaled decision's signature (record data with "statement", "signature" and
//! "public_key"): ok, permission_denied when it does not verify, not_found when the record
//! carries no signature (an approval over an authenticated channel, or unsigned).
[[nodiscard]] Status verify_recorded_signature(const nlohmann::json& decision_record);

// ---- key files --------------------------------------------------------------------------------

//! An approver's key pair and whose it is.
struct ApproverKey {
  std::string principal;
  Ed25519KeyPair keys;
  bool demo_only = false;  //!< committed with an example: anyone may sign with it
};

//! Key file: JSON {"keel_approver_key": 1, "principal": ID, "public_key": "ed25519:<hex>",
//! "seed": "<64 hex digits>", "demo_only": bool (optional), "note": text (optional)}. The seed
//! is the secret; the public key is derived from it again and must match the one written.
[[nodiscard]] Result<ApproverKey> read_approver_key(const std::string& path);
//! Writes a new key file readable by its owner only (0600); already_exists rather than
//! overwrite a key.
[[nodiscard]] Status write_approver_key(const std::string& path, const ApproverKey& key);

}  // namespace keel::agent
