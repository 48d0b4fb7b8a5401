#include "edge/program_update.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/file_io.h"
#include "core/hash.h"

namespace keel::edge {
namespace {

constexpr uint64_t kMaxUpdateManifestBytes = 1 << 20;
constexpr uint64_t kMaxProgramFileBytes = 512ull << 20;

Status bad_update(const std::string& why) {
  return Status::invalid_argument("update manifest: " + why);
}

Status check_terms(const UpdateTerms& t) {
  if (t.model_id.empty()) return bad_update("model_id is empty");
  if (t.version < 1) return bad_update("version must be a positive integer");
  if (t.rollout_percent < 0 || t.rollout_percent > 100)
    return bad_update("rollout_percent must be 0 to 100");
  if (t.expires_at <= 0) return bad_update("expires_at must be set (unix seconds)");
  if (t.min_accuracy < 0 || t.min_accuracy > 1) return bad_update("health.min_accuracy must be 0 to 1");
  if (t.max_p99_ms < 0) return bad_update("health.max_p99_ms must not be negative");
  if (t.device_classes.empty()) return bad_update("device_classes is empty");
  return Status();
}

}  // namespace

Json ProgramUpdate::to_json() const {
  return Json{{"keel_update", 1},
              {"model_id", terms.model_id},
              {"version", terms.version},
              {"program",
               {{"path", program_path},
                {"sha256", program_sha256},
                {"size", program_size},
                {"device_class", program_device_class}}},
              {"device_classes", terms.device_classes},
              {"rollout_percent", terms.rollout_percent},
              {"expires_at", terms.expires_at},
              {"health", {{"min_accuracy", terms.min_accuracy}, {"max_p99_ms", terms.max_p99_ms}}}};
}

Result<ProgramUpdate> parse_program_update(std::string_view payload) {
  auto parsed = parse_json(payload);
  if (!parsed.ok() || !parsed->is_object()) return bad_update("the payload is not a JSON object");
  const Json& j = *parsed;
  if (j.value("keel_update", Json()) != Json(1)) return bad_update("not a keel_update 1 payload");
  ProgramUpdate u;
  try {
    u.terms.model_id = j.at("model_id").get<std::string>();
    u.terms.version = j.at("version").get<int64_t>();
    const Json& p = j.at("program");
    u.program_path = p.at("path").get<std::string>();
    u.program_sha256 = p.at("sha256").get<std::string>();
    u.program_size = p.at("size").get<uint64_t>();
    u.program_device_class = p.at("device_class").get<std::string>();
    u.terms.device_classes = j.at("device_classes").get<std::vector<std::string>>();
    u.terms.rollout_percent = j.at("rollout_percent").get<int>();
    u.terms.expires_at = j.at("expires_at").get<int64_t>();
    u.terms.min_accuracy = j.at("health").at("min_accuracy").get<double>();
    u.terms.max_p99_ms = j.at("health").at("max_p99_ms").get<double>();
  } catch (const std::exception& e) {
    return bad_update(std::string("a field is missing or has the wrong type: ") + e.what());
  }
  KEEL_RETURN_IF_ERROR(check_terms(u.terms));
  if (u.program_path != fmt::format("sha256-{}.kprog", u.program_sha256) ||
      u.program_sha256.size() != 64)
    return bad_update("program.path must be sha256-<its 64-hex sha256>.kprog");
  return u;
}

Result<VerifiedUpdate> publish_update(const std::string& program_path, const UpdateTerms& given,
                                      const Ed25519KeyFile& key, const std::string& out_dir) {
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(program_path, kMaxProgramFileBytes));
  KEEL_ASSIGN_OR_RETURN(LoadedProgram program, parse_program(bytes, program_path));
  VerifiedUpdate out;
  ProgramUpdate& u = out.update;
  u.terms = given;
  u.program_device_class = program.header.value("device_class", std::string());
  if (u.terms.device_classes.empty()) u.terms.device_classes = {u.program_device_class};
  KEEL_RETURN_IF_ERROR(check_terms(u.terms));
  u.program_sha256 = sha256_hex(bytes);
  u.program_size = bytes.size();
  u.program_path = fmt::format("sha256-{}.kprog", u.program_sha256);

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Status::internal(fmt::format("cannot create {}: {}", out_dir, ec.message()));
  KEEL_RETURN_IF_ERROR(
      write_file_atomically((std::filesystem::path(out_dir) / u.program_path).string(), bytes));
  SignedManifest signed_manifest;
  signed_manifest.payload = dump_json(u.to_json(), 1);
  signed_manifest.signature = ed25519_sign(signed_manifest.payload, key.keys.secret_key);
  signed_manifest.key = key.keys.public_key;
  const std::string text = signed_manifest_text(signed_manifest);
  out.manifest_path = (std::filesystem::path(out_dir) / "update.json").string();
  KEEL_RETURN_IF_ERROR(write_file_atomically(out.manifest_path, text));
  out.manifest_sha256 = sha256_hex(text);
  out.program_bytes = std::move(bytes);
  return out;
}

Result<VerifiedUpdate> verify_update(const std::string& manifest_path,
                                     const Ed25519PublicKey& trusted) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(manifest_path, kMaxUpdateManifestBytes));
  KEEL_ASSIGN_OR_RETURN(SignedManifest envelope,
                        verify_signed_manifest(text, manifest_path, trusted));
  VerifiedUpdate out;
  out.manifest_path = manifest_path;
  out.manifest_sha256 = sha256_hex(text);
  auto update = parse_program_update(envelope.payload);
  if (!update.ok())
    return Status(update.status().code(),
                  fmt::format("{}: {}", manifest_path, update.status().message()));
  out.update = std::move(*update);
  const std::string path =
      (std::filesystem::path(manifest_path).parent_path() / out.update.program_path).string();
  KEEL_ASSIGN_OR_RETURN(out.program_bytes, read_file(path, kMaxProgramFileBytes));
  if (out.program_bytes.size() != out.update.program_size)
    return Status::data_loss(fmt::format("{} has {} bytes; the signed update says {}", path,
                                         out.program_bytes.size(), out.update.program_size));
  if (sha256_hex(out.program_bytes) != out.update.program_sha256)
    return Status::data_loss(fmt::format(
        "{} does not hash to the signed sha256 (the program was altered or corrupted)", path));
  KEEL_ASSIGN_OR_RETURN(LoadedProgram program, parse_program(out.program_bytes, path));
  if (program.header.value("device_class", std::string()) != out.update.program_device_class)
    return Status::data_loss(fmt::format("{} was prepared for device class '{}', the update says '{}'",
                                         path, program.header.value("device_class", std::string()),
                                         out.update.program_device_class));
  return out;
}

int rollout_bucket(std::string_view model_id, std::string_view device_id) {
  const Sha256Digest d = sha256(fmt::format("keel-rollout\n{}\n{}", model_id, device_id));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d[static_cast<size_t>(i)];
  return static_cast<int>(v % 100);
}

Status check_update_applies(const ProgramUpdate& u, const DeviceIdentity& device, int64_t now,
                            int64_t installed_version) {
  const UpdateTerms& t = u.terms;
  if (now >= t.expires_at)
    return Status::failed_precondition(fmt::format(
        "update {} v{} expired at {} (now {})", t.model_id, t.version, t.expires_at, now));
  if (std::find(t.device_classes.begin(), t.device_classes.end(), device.device_class) ==
      t.device_classes.end())
    return Status::failed_precondition(fmt::format(
        "update {} v{} targets device classes [{}], not this device's '{}'", t.model_id,
        t.version, fmt::join(t.device_classes, ", "), device.device_class));
  if (u.program_device_class != device.device_class)
    return Status::failed_precondition(fmt::format(
        "update {} v{} carries a program prepared for '{}', not for this device's '{}'",
        t.model_id, t.version, u.program_device_class, device.device_class));
  if (t.version <= installed_version)
    return Status::permission_denied(fmt::format(
        "update {} v{} is not newer than the installed v{} (a downgrade or a replay)", t.model_id,
        t.version, installed_version));
  const int bucket = rollout_bucket(t.model_id, device.id);
  if (bucket >= t.rollout_percent)
    return Status::unavailable(fmt::format(
        "update {} v{} is rolled out to {}% of devices; this device is in bucket {}", t.model_id,
        t.version, t.rollout_percent, bucket));
  return Status();
}

}  // namespace keel::edge
