#include "agent/approval.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "contract/spec.h"
#include "core/file_io.h"
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

constexpr uint64_t kMaxKeyFileBytes = 64 * 1024;

}  // namespace

Result<ApproverKey> read_approver_key(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxKeyFileBytes));
  auto parsed = parse_json(text);
  auto bad = [&](const std::string& what) {
    return Status::invalid_argument(
        fmt::format("{} is not a keel approver key file: {}", path, what));
  };
  if (!parsed.ok() || !parsed->is_object())
    return bad("expected a JSON object (`keel agent keygen` writes one)");
  const Json& j = *parsed;
  if (j.value("keel_approver_key", Json()) != Json(1))
    return bad("\"keel_approver_key\": 1 is missing");
  for (const char* field : {"principal", "public_key", "seed"}) {
    if (!j.contains(field) || !j[field].is_string())
      return bad(fmt::format("\"{}\" must be a string", field));
  }
  auto seed_bytes = from_hex(j["seed"].get<std::string>());
  if (!seed_bytes.ok() || seed_bytes->size() != 32) return bad("\"seed\" must be 64 hex digits");
  std::array<uint8_t, 32> seed{};
  std::memcpy(seed.data(), seed_bytes->data(), seed.size());
  ApproverKey key;
  key.principal = j["principal"].get<std::string>();
  key.keys = ed25519_from_seed(seed);
  std::memset(seed.data(), 0, seed.size());
  auto written = contract::parse_public_key(j["public_key"].get<std::string>());
  if (!written.ok()) return bad("\"public_key\": " + written.status().message());
  if (*written != key.keys.public_key)
    return bad("its public_key is not the one its seed makes (the file was altered)");
  if (j.contains("demo_only")) {
    if (!j["demo_only"].is_boolean()) return bad("\"demo_only\" must be true or false");
    key.demo_only = j["demo_only"].get<bool>();
  }
  return key;
}

Status write_approver_key(const std::string& path, const ApproverKey& key) {
  Json j = {
      {"keel_approver_key", 1},
      {"principal", key.principal},
      {"public_key", contract::format_public_key(key.keys.public_key)},
      {"seed", to_hex(std::span<const uint8_t>(key.keys.secret_key.data(), 32))},
      {"note", key.demo_only
                   ? "DEMO ONLY: this key is public (committed with an example); anyone can sign "
                     "with it. Never register it in a real deployment."
                   : "Secret: whoever holds this file can approve in this principal's name. Keep "
                     "it private; register only public_key in the spec."}};
  if (key.demo_only) j["demo_only"] = true;
  const std::string text = dump_json(j, 2) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::already_exists(
          fmt::format("{} exists; a key is never overwritten (choose another --out)", path));
    }
    return Status::internal(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Status::internal(fmt::format("cannot write {}: {}", path, std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  if (::close(fd) != 0 || !synced) {
    return Status::internal(
        fmt::format("cannot write {}: {}", path, std::strerror(synced ? errno : sync_errno)));
  }
  return Status();
}

}  // namespace keel::agent
