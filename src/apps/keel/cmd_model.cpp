// keel model keygen|sign|verify: signed, content-addressed models for clients that fetch them
// (the browser classifier; edge/model_manifest.h has the format).
//   keel model keygen --publisher ID --out KEY.json [--demo-only]
//   keel model sign MODEL.onnx --key KEY.json --out DIR     DIR/sha256-<hex>.onnx + manifest.json
//   keel model verify DIR/manifest.json --signer ed25519:<hex> [--json]
// Exit codes: 0 verified/written, 1 bad input, 2 the manifest or a model asset is refused.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "core/json.h"
#include "core/key_file.h"
#include "edge/model_manifest.h"

namespace keel::app {
namespace {

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel model: %s\n", message.c_str());
  return code;
}

}  // namespace

void add_model_command(CLI::App& root, int& exit_code) {
  CLI::App* model = root.add_subcommand(
      "model", "Sign and verify content-addressed models that clients fetch (browser, device)");
  model->require_subcommand(1);

  struct KeygenOptions {
    std::string publisher, out;
    bool demo_only = false;
  };
  auto k = std::make_shared<KeygenOptions>();
  CLI::App* keygen = model->add_subcommand(
      "keygen", "Make a model publisher's Ed25519 key (writes the secret, prints the public key)");
  keygen->add_option("--publisher", k->publisher, "who publishes with this key")->required();
  keygen->add_option("--out", k->out, "key file to create (mode 0600; never overwritten)")
      ->required();
  keygen->add_flag("--demo-only", k->demo_only,
                   "label the key as a demo key (for a key committed with an example)");
  keygen->callback([k, &exit_code] {
    Ed25519KeyFile key{k->publisher, ed25519_generate(), k->demo_only};
    Status written = write_ed25519_key_file(
        k->out, edge::kModelSigningKeyFile, key,
        k->demo_only ? "DEMO ONLY: this key is public (committed with an example); anyone can "
                       "sign models with it. Never pin it in a real deployment."
                     : "Secret: whoever holds this file can publish models that deployments "
                       "pinning public_key will run. Keep it private.");
    if (!written.ok()) {
      exit_code = fail(written.message());
      return;
    }
    std::printf("%s\n", format_ed25519_public_key(key.keys.public_key).c_str());
    std::fprintf(stderr,
                 "keel model: wrote %s; pin the public key above in the spec (browser.signer, or edge.update_signer for program updates)\n",
                 k->out.c_str());
    exit_code = 0;
  });

  struct SignOptions {
    std::string model, key, out;
  };
  auto s = std::make_shared<SignOptions>();
  CLI::App* sign = model->add_subcommand(
      "sign", "Publish an ONNX model under its SHA-256 with a signed manifest");
  sign->add_option("model", s->model, "the ONNX file (with keel.labels and keel.featurizer metadata)")
      ->required();
  sign->add_option("--key", s->key, "the publisher's key file (keel model keygen)")->required();
  sign->add_option("--out", s->out, "folder to publish into (created if missing)")->required();
  sign->callback([s, &exit_code] {
    auto key = read_ed25519_key_file(s->key, edge::kModelSigningKeyFile);
    if (!key.ok()) {
      exit_code = fail(key.status().message());
      return;
    }
    auto published = edge::publish_model(s->model, *key, s->out);
    if (!published.ok()) {
      exit_code = fail(published.status().message());
      return;
    }
    const auto& asset = *published->manifest.model_asset();
    std::printf("%s\n%s\nsha256 %s  %llu bytes  labels %s  signer %s\n",
                published->model_path.c_str(), published->manifest_path.c_str(),
                asset.sha256.c_str(), static_cast<unsigned long long>(asset.size),
                fmt::format("{}", fmt::join(published->manifest.labels, ",")).c_str(),
                format_ed25519_public_key(key->keys.public_key).c_str());
    if (key->demo_only)
      std::fprintf(stderr, "keel model: signed with a DEMO key: anyone can sign with it\n");
    exit_code = 0;
  });

  struct VerifyOptions {
    std::string manifest, signer;
    bool json = false;
  };
  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify = model->add_subcommand(
      "verify", "Check a published model's signature and every asset's size and hash");
  verify->add_option("manifest", v->manifest, "the published manifest.json")->required();
  verify->add_option("--signer", v->signer, "the public key the deployment pins (ed25519:<hex>)")
      ->required();
  verify->add_flag("--json", v->json, "print the verified manifest as JSON");
  verify->callback([v, &exit_code] {
    auto signer = parse_ed25519_public_key(v->signer);
    if (!signer.ok()) {
      exit_code = fail("--signer: " + signer.status().message());
      return;
    }
    auto verified = edge::verify_published_model(v->manifest, *signer);
    if (!verified.ok()) {
      exit_code = fail("refused: " + verified.status().message(), 2);
      return;
    }
    if (v->json) {
      std::printf("%s\n", dump_json(edge::manifest_to_json(verified->manifest), 2).c_str());
    } else {
      const auto& asset = *verified->manifest.model_asset();
      std::printf("verified: %s %s, %zu asset(s), model sha256 %s (%llu bytes), signed by %s\n",
                  verified->manifest.id.c_str(), verified->manifest.version.c_str(),
                  verified->manifest.assets.size(), asset.sha256.c_str(),
                  static_cast<unsigned long long>(asset.size), v->signer.c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
