// Signed updates of a device's prepared program (scenario mobile-vision): what a publisher
// ships and what a device checks before it writes a byte of the update anywhere it could run.
//
// On disk (docs/mobile-vision.md): DIR/update.json, the signed envelope every Keel manifest
// uses ({"payload", "signature", "key"}, model_manifest.h), whose payload is
//   {"keel_update": 1, "model_id", "version" (integer), "program": {"path", "sha256", "size",
//    "device_class"}, "device_classes": [...], "rollout_percent" (0-100), "expires_at" (unix
//    seconds), "health": {"min_accuracy", "max_p99_ms"}}
// and DIR/sha256-<hex>.kprog, the prepared program named by the SHA-256 of the file's bytes.
//
// Contract:
// - publish_update() reads the program (verifying it as load_program() does), copies it under
//   its hash and signs the payload; it refuses terms outside their ranges.
// - verify_update(): the envelope verifies under `trusted` only (permission_denied), the
//   payload parses (invalid_argument), the program exists with the signed size and hash
//   (data_loss) and parses as a prepared program. Nothing about the device is checked here.
// - check_update_applies() is the device's decision, in this order: expired (failed_precondition),
//   a device class the update does not target or a program prepared for another class
//   (failed_precondition), not newer than `installed_version` (permission_denied: a downgrade or
//   replay), this device outside the staged rollout (unavailable: not yet, not an error of the
//   update). rollout_bucket() is stable per device and model, so a device inside 10% stays
//   inside as the rollout widens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/key_file.h"
#include "core/result.h"
#include "edge/model_manifest.h"
#include "edge/prepared_program.h"

namespace keel::edge {

struct UpdateTerms {
  std::string model_id;
  int64_t version = 0;
  std::vector<std::string> device_classes;  //!< empty: the program's own device class
  int rollout_percent = 100;
  int64_t expires_at = 0;  //!< unix seconds
  double min_accuracy = 0;  //!< on the device's canary set
  double max_p99_ms = 0;    //!< 0: only the device's own bound
};

struct ProgramUpdate {
  UpdateTerms terms;
  std::string program_path;    //!< relative to the manifest's folder
  std::string program_sha256;  //!< of the .kprog file's bytes
  uint64_t program_size = 0;
  std::string program_device_class;  //!< the device class the program was prepared for

  Json to_json() const;
};

struct VerifiedUpdate {
  std::string manifest_path;
  std::string manifest_sha256;  //!< of update.json's bytes: names this exact update
  ProgramUpdate update;
  std::string program_bytes;    //!< exactly the bytes verified
};

[[nodiscard]] Result<ProgramUpdate> parse_program_update(std::string_view payload);

[[nodiscard]] Result<VerifiedUpdate> publish_update(const std::string& program_path,
                                                    const UpdateTerms& terms,
                                                    const Ed25519KeyFile& key,
                                                    const std::string& out_dir);

[[nodiscard]] Result<VerifiedUpdate> verify_update(const std::string& manifest_path,
                                                   const Ed25519PublicKey& trusted);

struct DeviceIdentity {
  std::string id;
  std::string device_class;
};

//! 0..99, from SHA-256 of the model id and the device id.
int rollout_bucket(std::string_view model_id, std::string_view device_id);

[[nodiscard]] Status check_update_applies(const ProgramUpdate& update, const DeviceIdentity& device,
                                          int64_t now_unix, int64_t installed_version);

}  // namespace keel::edge
