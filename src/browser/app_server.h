// The browser classifier's origin server (`keel web serve`): the app's pages and hashed assets
// (static_site.h), the signed model under its hash, the server-side classifier for the
// opt-in remote fallback, the plain form that needs no AI, and the measurements the page
// reports. Its HTTP surface is in docs/browser-classifier.md.
//
// Contract:
// - create() loads the app, the published model folder and (when the model verifies under the
//   pinned key) the server-side classifier. A model that fails verification does not stop the
//   server: the page still gets the manifest and refuses the model itself, the form works, and
//   /api/classify answers 503 with the reason.
// - Every response carries security_headers(). Hashed assets and models are immutable; pages
//   and the manifest are no-cache.
// - /api/classify answers only when `remote_enabled` (403 otherwise) and the request carries
//   `X-Keel-Consent: granted` (428 otherwise); invalid JSON, a missing text, invalid UTF-8 or a
//   body over max_body_bytes is 400/413 with a JSON error. Text is never written anywhere
//   (raw_input_retention: none); the form keeps only counts.
// - run() serves until stop() or SIGINT/SIGTERM; stop() is callable from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "core/signature.h"

namespace keel::browser {

struct WebAppOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8090;
  std::vector<std::string> app_folders;  //!< web/ and the vendored ONNX Runtime Web
  std::string models_folder;             //!< holds manifest.json and sha256-<hex>.onnx
  Ed25519PublicKey signer{};             //!< the key the deployment pins
  //! Page config entries from the spec: "providers", "memory", "remote" (docs/...).
  Json page_config = Json::object();
  bool remote_enabled = false;
  std::vector<std::string> categories;  //!< what the form files documents under
  std::string measurements_file;  //!< "" : kept in memory only
  uint64_t max_body_bytes = 256 * 1024;
  int64_t header_timeout_ms = 10000;
  int64_t body_timeout_ms = 30000;
  int64_t idle_timeout_ms = 60000;
};

class WebAppServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<WebAppServer>> create(WebAppOptions options);
  ~WebAppServer();

  uint16_t port() const;
  //! Why the server-side classifier is not available ("" when it is).
  const std::string& model_problem() const;
  void run();
  void stop();

 private:
  WebAppServer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::browser
