// keel web serve: the browser classifier's origin (browser/app_server.h): the app under hashed
// URLs, the signed model, the plain form, the opt-in server-side classifier, the measurements.
//   keel web serve [--spec SPEC] [--listen HOST:PORT] [--models DIR] [--app DIR]
//                  [--measurements FILE]
// The spec (default examples/browser-classifier.yaml) must pass its checks (exit 2 otherwise).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "browser/app_server.h"
#include "contract/checks.h"
#include "contract/spec_parser.h"

namespace keel::app {
namespace {

struct WebServeOptions {
  std::string spec, listen = "127.0.0.1:8090", models, app, measurements;
};

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel web: %s\n", message.c_str());
  return code;
}

int run_web_serve(const WebServeOptions& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  if (spec->scenario != contract::ScenarioId::browser_classifier)
    return fail(fmt::format("{} is not a browser-classifier spec", o.spec));
  for (const auto& c : contract::run_checks(*spec)) {
    if (c.status == contract::CheckStatus::fail)
      return fail("the spec is refused: " + c.id + " " + c.message, 2);
  }
  const auto& b = spec->browser;
  if (!b.signer) return fail("the spec has no browser.signer: the page would have no key to trust");
  const contract::ModelSpec* model = nullptr;
  for (const auto& m : spec->deployment.models) {
    if (m.role == contract::ModelRole::classify) model = &m;
  }
  if (!model || model->path.empty())
    return fail("the spec has no classify model with a path (its published folder's model file)");

  browser::WebAppOptions options;
  auto colon = o.listen.rfind(':');
  if (colon == std::string::npos) return fail("--listen: expected HOST:PORT");
  options.host = o.listen.substr(0, colon);
  try {
    int port = std::stoi(o.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    options.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    return fail("--listen: the port must be 0..65535");
  }
  const std::string app = o.app.empty() ? contract::resolve_spec_path(*spec, b.app) : o.app;
  const std::string vendor = (std::filesystem::path(app) / "vendor" / "ort").string();
  if (!std::filesystem::is_directory(vendor))
    return fail(fmt::format("{} is missing: ONNX Runtime Web is installed and copied there by "
                            "tools/setup.sh (npm ci in web/, then web/vendor.sh)",
                            vendor));
  options.app_folders = {app, vendor};
  options.models_folder =
      o.models.empty()
          ? std::filesystem::path(contract::resolve_spec_path(*spec, model->path)).parent_path().string()
          : o.models;
  options.signer = *b.signer;
  options.categories = b.categories;
  options.remote_enabled = spec->deployment.remote_fallback != contract::RemoteFallback::disabled;
  options.measurements_file = o.measurements;
  options.page_config = Json{
      {"providers", b.providers},
      {"memory", Json{{"min_device_memory_mb", b.min_device_memory_mb},
                      {"model_mb", model->max_ram_mb.value_or(0)}}},
      {"remote", Json{{"mode", options.remote_enabled ? "opt-in" : "disabled"},
                      {"endpoint", b.remote_endpoint}}}};
  auto server = browser::WebAppServer::create(std::move(options));
  if (!server.ok()) return fail(server.status().message());
  if (!(*server)->model_problem().empty())
    std::fprintf(stderr, "keel web: the server-side classifier is off: %s\n",
                 (*server)->model_problem().c_str());
  std::fprintf(stderr, "keel web: listening on http://%s:%u (the app; /results; /metrics)\n",
               o.listen.substr(0, colon).c_str(), (*server)->port());
  (*server)->run();
  return 0;
}

}  // namespace

void add_web_command(CLI::App& root, int& exit_code) {
  CLI::App* web = root.add_subcommand("web", "The browser document classifier's origin server");
  web->require_subcommand(1);
  auto o = std::make_shared<WebServeOptions>();
  CLI::App* cmd = web->add_subcommand(
      "serve", "Serve the app, its signed model, the plain form and the opt-in remote classifier");
  cmd->add_option("--spec", o->spec,
                  "browser-classifier spec (default: examples/browser-classifier.yaml)");
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free one)")
      ->capture_default_str();
  cmd->add_option("--models", o->models,
                  "a published model folder to serve instead of the spec's (manifest.json and "
                  "sha256-<hex>.onnx)");
  cmd->add_option("--app", o->app, "the app's folder instead of the spec's browser.app");
  cmd->add_option("--measurements", o->measurements,
                  "append the measurements pages report to this file (JSON lines)");
  cmd->callback([o, &exit_code] {
    if (o->spec.empty()) o->spec = bundled_example("examples/browser-classifier.yaml");
    exit_code = run_web_serve(*o);
  });
}

}  // namespace keel::app
