// `keel serve`: the OpenAI-compatible HTTP server. Event-driven (Asio, one I/O thread, no
// thread per connection) in front of the continuous-batching scheduler.
//
// Endpoints: POST /v1/chat/completions, /v1/completions (streamed as Server-Sent Events or
// not), /v1/embeddings (with an embedding model), GET /v1/models, /metrics (Prometheus text),
// /livez (the process is alive), /startupz and /readyz (503 until the model is loaded and a
// warm-up pass ran; /readyz is 503 again while draining).
//
// Contract:
// - The server listens before the model loads, so probes answer while it loads.
// - Every request passes, in order: the gateway (401/403, 429 past a tenant's quota), the
//   request limits (400/413 with a clear message), admission (429 + Retry-After past a bound).
// - A client that disconnects cancels its generation at the next engine step.
// - SIGTERM (or shutdown()) stops admitting (503), finishes in-flight work within the grace
//   period, then run() returns ok.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/chat_template.h"
#include "serve/admission.h"
#include "serve/gateway.h"
#include "serve/http.h"
#include "serve/openai_api.h"
#include "serve/scheduler.h"
#include "serve/serve_metrics.h"

namespace keel::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  //!< 0: any free port (see Server::port())
  std::string model_path;
  std::string model_id;  //!< the name clients use; default: the file name without .gguf
  std::string embed_model_path;
  std::string embed_model_id;
  std::optional<engine::ChatTemplate> chat_template;  //!< default: from the model
  SchedulerOptions scheduler;
  AdmissionLimits admission;
  RequestLimits request_limits;
  HttpLimits http;
  SloThresholds slo;
  std::string api_keys_path;  //!< empty: open access
  std::vector<std::pair<std::string, TenantLimits>> tenants;  //!< limits for tenants from a spec
  double grace_period_s = 30;
  bool handle_signals = true;  //!< SIGTERM/SIGINT start a drain
  //! Fault injection: wait this long before loading the model, to exercise probes and clients
  //! against a slow start (a cold cache or a large model).
  int64_t startup_delay_ms = 0;
};

class Server {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Server>> create(const ServerOptions& options);
  ~Server();

  //! Serves until shutdown() or a signal, then drains; returns ok after a clean drain.
  [[nodiscard]] Status run();
  //! Starts a drain from any thread.
  void shutdown();
  uint16_t port() const;

  struct Impl;

 private:
  Server() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::serve
