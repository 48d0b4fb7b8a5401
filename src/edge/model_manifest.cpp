#include "edge/model_manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/file_io.h"
#include "core/hash.h"
#include "edge/onnx_graph.h"

namespace keel::edge {

namespace {

constexpr uint64_t kMaxManifestBytes = 1 << 20;

Json value_schema(const ValueInfo& v) {
  Json shape = Json::array();
  for (const Dim& d : v.dims) {
    if (d.size >= 0) {
      shape.push_back(d.size);
    } else {
      shape.push_back(d.symbol.empty() ? "?" : d.symbol);
    }
  }
  return Json{{"name", v.name}, {"type", v.element_type}, {"shape", shape}};
}

std::string metadata_text(const OnnxGraph& g, std::string_view key, std::string fallback) {
  auto it = g.metadata.find(key);
  return it == g.metadata.end() ? fallback : it->second;
}

Status bad_manifest(const std::string& why) {
  return Status::invalid_argument("model manifest: " + why);
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

const ManifestAsset* ModelManifest::model_asset() const {
  for (const auto& a : assets) {
    if (a.role == "model") return &a;
  }
  return nullptr;
}

Json manifest_to_json(const ModelManifest& m) {
  Json assets = Json::array();
  for (const auto& a : m.assets) {
    assets.push_back(Json{{"role", a.role},
                          {"path", a.path},
                          {"sha256", a.sha256},
                          {"size", a.size},
                          {"format", a.format}});
  }
  return Json{{"keel_model_manifest", 1},
              {"id", m.id},
              {"version", m.version},
              {"assets", assets},
              {"inputs", m.inputs},
              {"outputs", m.outputs},
              {"labels", m.labels},
              {"featurizer", to_json(m.featurizer)},
              {"min_capabilities",
               Json{{"memory_mb", m.min_memory_mb}, {"providers", m.min_providers}}}};
}

Result<ModelManifest> parse_manifest(std::string_view payload) {
  auto parsed = parse_json(payload);
  if (!parsed.ok() || !parsed->is_object()) return bad_manifest("the payload is not a JSON object");
  const Json& j = *parsed;
  if (j.value("keel_model_manifest", Json()) != Json(1))
    return bad_manifest("\"keel_model_manifest\": 1 is missing");
  ModelManifest m;
  try {
    m.id = j.at("id").get<std::string>();
    m.version = j.at("version").get<std::string>();
    for (const auto& a : j.at("assets")) {
      ManifestAsset asset{a.at("role").get<std::string>(), a.at("path").get<std::string>(),
                          a.at("sha256").get<std::string>(), a.at("size").get<uint64_t>(),
                          a.at("format").get<std::string>()};
      if (!is_hex64(asset.sha256)) return bad_manifest("an asset's sha256 is not 64 hex digits");
      const bool plain_format =
          !asset.format.empty() && asset.format.size() <= 16 &&
          std::all_of(asset.format.begin(), asset.format.end(),
                      [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
      if (!plain_format) return bad_manifest("an asset's format is not a plain name like onnx");
      if (asset.path != fmt::format("sha256-{}.{}", asset.sha256, asset.format))
        return bad_manifest(fmt::format("asset {} is not named by its hash", asset.path));
      m.assets.push_back(std::move(asset));
    }
    m.inputs = j.at("inputs");
    m.outputs = j.at("outputs");
    m.labels = j.at("labels").get<std::vector<std::string>>();
    KEEL_ASSIGN_OR_RETURN(m.featurizer, parse_hashed_bow_spec(j.at("featurizer")));
    const Json& caps = j.at("min_capabilities");
    m.min_memory_mb = caps.at("memory_mb").get<int64_t>();
    m.min_providers = caps.at("providers").get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    return bad_manifest(std::string("a field is missing or has the wrong type: ") + e.what());
  }
  if (!m.model_asset()) return bad_manifest("no asset has role \"model\"");
  if (m.labels.empty()) return bad_manifest("\"labels\" is empty");
  return m;
}

std::string signed_manifest_text(const SignedManifest& s) {
  return dump_json(Json{{"payload", s.payload},
                        {"signature", "ed25519:" + to_hex(s.signature)},
                        {"key", format_ed25519_public_key(s.key)}},
                   2) +
         "\n";
}

Result<SignedManifest> parse_signed_manifest(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed.ok() || !parsed->is_object())
    return bad_manifest("expected {\"payload\", \"signature\", \"key\"}");
  const Json& j = *parsed;
  for (const char* f : {"payload", "signature", "key"}) {
    if (!j.contains(f) || !j[f].is_string())
      return bad_manifest(fmt::format("\"{}\" must be a string", f));
  }
  SignedManifest s;
  s.payload = j["payload"].get<std::string>();
  const std::string sig = j["signature"].get<std::string>();
  if (!sig.starts_with("ed25519:")) return bad_manifest("\"signature\" must start with ed25519:");
  KEEL_ASSIGN_OR_RETURN(s.signature, parse_ed25519_signature_hex(sig.substr(8)));
  KEEL_ASSIGN_OR_RETURN(s.key, parse_ed25519_public_key(j["key"].get<std::string>()));
  return s;
}

Result<PublishedModel> publish_model(const std::string& onnx_path, const Ed25519KeyFile& key,
                                     const std::string& out_dir) {
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(onnx_path, kMaxOnnxBytes));
  KEEL_ASSIGN_OR_RETURN(OnnxGraph graph, parse_onnx(bytes));
  ModelManifest m;
  m.id = metadata_text(graph, "keel.model_id",
                       std::filesystem::path(onnx_path).stem().string());
  m.version = metadata_text(graph, "keel.version", "1");
  KEEL_ASSIGN_OR_RETURN(Json labels, metadata_json(graph, "keel.labels"));
  if (!labels.is_array() || labels.empty())
    return Status::invalid_argument("metadata keel.labels must be a non-empty JSON array");
  for (const auto& l : labels) {
    if (!l.is_string())
      return Status::invalid_argument("metadata keel.labels must hold strings");
    m.labels.push_back(l.get<std::string>());
  }
  KEEL_ASSIGN_OR_RETURN(Json featurizer, metadata_json(graph, "keel.featurizer"));
  KEEL_ASSIGN_OR_RETURN(m.featurizer, parse_hashed_bow_spec(featurizer));
  for (const auto& v : graph.inputs) m.inputs.push_back(value_schema(v));
  for (const auto& v : graph.outputs) m.outputs.push_back(value_schema(v));
  if (graph.outputs.size() != 1 || graph.outputs[0].dims.empty() ||
      graph.outputs[0].dims.back().size != static_cast<int64_t>(m.labels.size())) {
    return Status::invalid_argument(fmt::format(
        "the model must have one output whose last dimension is the {} labels", m.labels.size()));
  }
  const std::string hash = sha256_hex(bytes);
  m.assets.push_back(ManifestAsset{"model", fmt::format("sha256-{}.onnx", hash), hash,
                                   bytes.size(), "onnx"});
  // The weights, a copy while they are read into the runtime, and the activations.
  m.min_memory_mb = static_cast<int64_t>(2 * bytes.size() / (1 << 20)) + 8;
  m.min_providers = {"wasm"};

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Status::internal(fmt::format("cannot create {}: {}", out_dir, ec.message()));
  PublishedModel out;
  out.model_path = (std::filesystem::path(out_dir) / m.assets[0].path).string();
  out.manifest_path = (std::filesystem::path(out_dir) / "manifest.json").string();
  KEEL_RETURN_IF_ERROR(write_file_atomically(out.model_path, bytes));
  out.signed_manifest.payload = dump_json(manifest_to_json(m), 1);
  out.signed_manifest.signature = ed25519_sign(out.signed_manifest.payload, key.keys.secret_key);
  out.signed_manifest.key = key.keys.public_key;
  KEEL_RETURN_IF_ERROR(
      write_file_atomically(out.manifest_path, signed_manifest_text(out.signed_manifest)));
  out.manifest = std::move(m);
  return out;
}

Result<SignedManifest> verify_signed_manifest(std::string_view text, std::string_view name,
                                              const Ed25519PublicKey& trusted) {
  auto parsed = parse_signed_manifest(text);
  if (!parsed.ok())
    return Status(parsed.status().code(), fmt::format("{}: {}", name, parsed.status().message()));
  if (parsed->key != trusted) {
    return Status::permission_denied(fmt::format(
        "{} is signed by {}, not by the pinned key {}", name,
        format_ed25519_public_key(parsed->key), format_ed25519_public_key(trusted)));
  }
  if (Status s = ed25519_verify(parsed->payload, parsed->signature, trusted); !s.ok()) {
    return Status::permission_denied(fmt::format(
        "{}: the signature does not verify under the pinned key (the manifest was altered)",
        name));
  }
  return std::move(*parsed);
}

Result<PublishedModel> verify_published_model(const std::string& manifest_path,
                                              const Ed25519PublicKey& trusted) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(manifest_path, kMaxManifestBytes));
  PublishedModel out;
  out.manifest_path = manifest_path;
  KEEL_ASSIGN_OR_RETURN(out.signed_manifest, verify_signed_manifest(text, manifest_path, trusted));
  KEEL_ASSIGN_OR_RETURN(out.manifest, parse_manifest(out.signed_manifest.payload));
  const auto dir = std::filesystem::path(manifest_path).parent_path();
  for (const auto& asset : out.manifest.assets) {
    const std::string path = (dir / asset.path).string();
    KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxOnnxBytes));
    if (bytes.size() != asset.size)
      return Status::data_loss(fmt::format("{} has {} bytes; the signed manifest says {}", path,
                                           bytes.size(), asset.size));
    if (sha256_hex(bytes) != asset.sha256)
      return Status::data_loss(fmt::format(
          "{} does not hash to the signed sha256 {} (the file was altered or corrupted)", path,
          asset.sha256));
    if (asset.role == "model") {
      out.model_path = path;
      out.model_bytes = std::move(bytes);
    }
  }
  return out;
}

}  // namespace keel::edge
