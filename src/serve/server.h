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
// - Connections are bounded (ConnectionLimits, see connection_limits.h): a total and a per-peer
//   cap, a few probe-only slots past the total, and deadlines for a request's head, its body
//   and an idle keep-alive connection. When accept() fails (out of file descriptors) the server
//   backs off and retries instead of spinning; open connections keep being served.
// - Every request passes, in order: its head is checked before its body is read (a /v1/ request
//   without a valid API key is answered 401 and the connection closed, so an unauthenticated
//   client cannot make the server hold a large body); the gateway (403, 429 past a tenant's
//   quota); the request limits (400/413 with a clear message: every field of a JSON body is
//   read with its type checked); admission (429 + Retry-After past a bound), for generation and
//   embeddings alike.
// - Prompts are tokenized and embeddings computed off the I/O thread, so a large request never
//   delays probes or other clients' tokens.
// - An exception thrown while handling a request is answered 500 on that request (and logged);
//   it never ends the process.
// - A client that disconnects cancels its generation at the next engine step and its embedding
//   request before the next slice. A client that only half-closes (shutdown(SHUT_WR)) after a
//   complete request still gets its response: the server then sends an interim
//   "100 Continue" to learn whether the client is still there, and a reset cancels the work.
// - SIGTERM (or shutdown()) stops admitting (503), finishes in-flight work within the grace
//   period, then run() returns ok. During the model load or warm-up it interrupts them: run()
//   returns ok without waiting for the load to finish (within one engine step or one stage of
//   the load: reading the file, creating a context).
// - Thread-safety: the model, scheduler and embedding queue are made by a loader thread and
//   published to the I/O thread through `ready` (a release store); nothing reads them before
//   it sees ready.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/chat_template.h"
#include "serve/admission.h"
#include "serve/connection_limits.h"
#include "serve/gateway.h"
#include "net/http_parser.h"
#include "serve/openai_api.h"
#include "serve/scheduler.h"
#include "serve/serve_metrics.h"
#include "core/serving_defaults.h"

namespace keel::serve {

struct ServerOptions {
  std::string host = serving_defaults::kHost;
  uint16_t port = static_cast<uint16_t>(serving_defaults::kPort);  //!< 0: any free port (see Server::port())
  std::string model_path;
  std::string model_id;  //!< the name clients use; default: the file name without .gguf
  //! The model file's SHA-256 (hex), when the caller knows it (a current compatibility record);
  //! empty: the loader hashes the file. Every response's system_fingerprint names it.
  std::string model_sha256;
  std::string embed_model_path;
  std::string embed_model_id;
  std::optional<engine::ChatTemplate> chat_template;  //!< default: from the model
  SchedulerOptions scheduler;
  AdmissionLimits admission;
  RequestLimits request_limits;
  net::HttpLimits http;
  ConnectionLimits connections;
  //! Embedding inputs tokenized and embedded per turn of the embedding worker (round robin).
  size_t embedding_inputs_per_slice = 8;
  SloThresholds slo;
  std::string api_keys_path;                                  //!< empty: open access
  std::vector<std::pair<std::string, TenantLimits>> tenants;  //!< limits for tenants from a spec
  double grace_period_s = serving_defaults::kGracePeriodS;
  bool handle_signals = true;  //!< SIGTERM/SIGINT start a drain
  //! Fault injection: wait this long before loading the model, to exercise probes and clients
  //! against a slow start (a cold cache or a large model).
  int64_t startup_delay_ms = 0;
  //! Fault injection for tests: called on the I/O thread before each request is handled; an
  //! exception it throws is handled as a handler's exception would be (500, the server goes on).
  std::function<void(const net::HttpRequest&)> on_request;
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
