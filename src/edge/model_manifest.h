// Signed, content-addressed model manifests (the browser classifier's model, and any model a
// client fetches and must trust). A publisher signs; every reader verifies against the key its
// deployment pins, then checks each asset's size and SHA-256 before using a byte of it.
//
// On disk (docs/browser-classifier.md): DIR/manifest.json =
//   {"payload": "<manifest JSON text>", "signature": "ed25519:<128 hex>", "key": "ed25519:<hex>"}
// and each asset DIR/sha256-<hex>.<ext>, named by its own hash. The signature covers the exact
// bytes of `payload`, so no JSON canonicalisation is involved.
//
// Contract:
// - publish_model() reads the ONNX file (its schema and keel.* metadata), copies it to
//   DIR/sha256-<hex>.onnx, writes DIR/manifest.json atomically and returns both; it refuses a
//   model without labels or featurizer metadata, or whose output width differs from the labels.
// - verify_published_model() returns the manifest only if the signature verifies under
//   `trusted` (permission_denied otherwise, also when the manifest names another key), and
//   every asset exists under its hash name with the listed size and hash (data_loss naming the
//   asset otherwise). The `key` field is informational; only `trusted` is believed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/key_file.h"
#include "core/result.h"
#include "core/signature.h"
#include "edge/text_features.h"

namespace keel::edge {

inline constexpr KeyFileKind kModelSigningKeyFile{"keel_model_signing_key", "publisher",
                                                  "keel model keygen"};

struct ManifestAsset {
  std::string role;    //!< "model"
  std::string path;    //!< "sha256-<hex>.onnx", relative to the manifest's folder
  std::string sha256;  //!< lower-case hex
  uint64_t size = 0;
  std::string format;  //!< "onnx"
};

struct ModelManifest {
  std::string id;
  std::string version;
  std::vector<ManifestAsset> assets;
  Json inputs = Json::array();   //!< [{"name", "type", "shape"}], shape entries int or symbol
  Json outputs = Json::array();
  std::vector<std::string> labels;
  HashedBowSpec featurizer;
  int64_t min_memory_mb = 0;
  std::vector<std::string> min_providers;

  const ManifestAsset* model_asset() const;
};

struct SignedManifest {
  std::string payload;  //!< the manifest's JSON text, exactly as signed
  Ed25519Signature signature{};
  Ed25519PublicKey key{};
};

Json manifest_to_json(const ModelManifest& m);
[[nodiscard]] Result<ModelManifest> parse_manifest(std::string_view payload);

std::string signed_manifest_text(const SignedManifest& s);
[[nodiscard]] Result<SignedManifest> parse_signed_manifest(std::string_view text);
//! parse_signed_manifest(), then the envelope is believed only if its key is `trusted` and the
//! signature verifies (permission_denied naming `name` otherwise). Any signed manifest (models,
//! program updates) is read through this.
[[nodiscard]] Result<SignedManifest> verify_signed_manifest(std::string_view text,
                                                            std::string_view name,
                                                            const Ed25519PublicKey& trusted);

struct PublishedModel {
  std::string manifest_path;
  std::string model_path;
  std::string model_bytes;  //!< set by verify_published_model(): the bytes it verified
  SignedManifest signed_manifest;
  ModelManifest manifest;
};

[[nodiscard]] Result<PublishedModel> publish_model(const std::string& onnx_path,
                                                   const Ed25519KeyFile& key,
                                                   const std::string& out_dir);

[[nodiscard]] Result<PublishedModel> verify_published_model(const std::string& manifest_path,
                                                            const Ed25519PublicKey& trusted);

}  // namespace keel::edge
