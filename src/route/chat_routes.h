// The two places a field task can be answered: the device's own model (Keel's engine, in
// process) and the private cloud's `keel serve` (OpenAI chat completions with the device's
// key). Each answer says which model file (SHA-256) and which Keel version produced it.
//
// Contract:
// - LocalChat formats, tokenizes, stops and decodes exactly as `keel serve` does for a chat
//   completion with temperature 0, so the same model file gives the same greedy text on both
//   routes (the parity test holds this).
// - probe() asks the endpoint's probe path with a deadline; up only on a 2xx within it, with the
//   measured round trip; down says why (refused, timed out, the status).
// - ask_cloud() errors: the link or server failing is unavailable (deadline_exceeded past the
//   timeout: the outcome is unknown); 401/403 permission_denied; a 4xx invalid_argument with
//   the server's message; 429/5xx unavailable; a malformed body data_loss. The cloud's model
//   hash and version come from the response's system_fingerprint ("" when it gives none).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/result.h"
#include "route/route_policy.h"

namespace keel::engine {
class Model;
class Context;
}  // namespace keel::engine

namespace keel::route {

struct RouteAnswer {
  std::string text;
  std::string model_sha256;  //!< hex; "" when the route did not say
  std::string keel_version;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  double ms = 0;
};

class LocalChat {
 public:
  [[nodiscard]] static Result<std::unique_ptr<LocalChat>> open(const std::string& path, int64_t n_ctx = 2048,
                                                              int threads = 0);
  ~LocalChat();
  //! Greedy; one ask at a time.
  [[nodiscard]] Result<RouteAnswer> ask(const std::string& question, int64_t max_tokens);
  const std::string& sha256() const { return sha256_; }

 private:
  LocalChat() = default;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Context> context_;
  std::string sha256_;
  int64_t n_ctx_ = 0;
  std::mutex mutex_;
};

struct CloudEndpoint {
  std::string base_url;  //!< the OpenAI base, e.g. http://10.0.0.1:8080/v1
  std::string model;     //!< the model name the server answers to
  std::string key;       //!< the device's API key
  int64_t timeout_ms = 30000;
  std::string probe_path = "/livez";
  double probe_deadline_ms = 800;
};

[[nodiscard]] LinkState probe(const CloudEndpoint& cloud);
[[nodiscard]] Result<RouteAnswer> ask_cloud(const CloudEndpoint& cloud, const std::string& question,
                                            int64_t max_tokens);

//! A chat completion's body: its first choice's text, the fingerprint's model hash and version,
//! and usage; anything else is data_loss (never an exception).
[[nodiscard]] Result<RouteAnswer> parse_chat_answer(std::string_view body);

struct ModelFingerprint {
  std::string keel_version, sha256;
};
//! "keel-<version>+sha256:<hex>" (serve/openai_api.h model_fingerprint); nullopt otherwise.
std::optional<ModelFingerprint> parse_fingerprint(std::string_view text);

}  // namespace keel::route
