// The enterprise-rag HTTP server: `POST /v1/answers` (Keel's answer with its evidence) and the
// OpenAI-compatible `POST /v1/chat/completions` (the same answer as a chat completion, so
// existing clients work), both behind the same bearer-token identity.
//
// Contract:
// - Every request but GET /healthz and GET /v1/models needs `Authorization: Bearer <JWT>`;
//   the token is checked by options.authenticate (signature, expiry, issuer, audience, claims).
//   No token or a bad one: 401 with an OpenAI-style error ("missing_token" or "invalid_token",
//   the reason in the message) and a WWW-Authenticate header; the refusal is audited.
// - POST /v1/answers takes {"question": string} or {"metric_request": {...}} (both: the typed
//   request is answered, the question is kept for the audit); unknown fields, wrong types and
//   questions over 4000 bytes are 400 naming the field. It answers answer_service.h's JSON with
//   200 (a limitation or a decline is an answer, with its status).
// - POST /v1/chat/completions answers the last user message (a message that is a JSON object
//   with a "metric" field is a typed request) as a chat.completion whose message content is
//   the answer's text and whose "keel" field is the whole answer; "stream": true sends the same
//   as SSE chunks ending in "data: [DONE]". Fields of the OpenAI request that do not change an
//   answer (model, temperature, max_tokens, ...) are accepted; unknown ones are 400.
// - The warehouse unreachable: 503 "warehouse_unavailable" with Retry-After, nothing of the
//   answer. Any other failure: 500 with its message.
// - Answers run on options.threads worker threads, each with its own ConnectedAnswerService
//   (made by options.open_service when the server starts; a failure there fails create()).
//   Admission: at most threads + max_waiting requests are answered or wait; past that a request
//   is refused at once with overload_status (429 by default), Retry-After: retry_after_s and
//   {"error": {"type": "overloaded", "code": "overloaded"}}.
// - GET /metrics: answer_metrics.h, unauthenticated (it holds counts, no tenant's data).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "rag/answer_service.h"
#include "semantic/metric_request.h"

namespace keel::rag {

struct AnswerServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  //!< 0: any free port (port() says which)
  size_t threads = 4;
  std::string model_id = "keel-enterprise-rag";
  int64_t header_timeout_ms = 10000, body_timeout_ms = 30000, idle_timeout_ms = 60000;
  size_t max_body_bytes = 256 << 10;
  size_t max_waiting = 64;
  int overload_status = 429;
  int retry_after_s = 2;
  std::function<Result<semantic::Asker>(std::string_view token)> authenticate;
  std::function<Result<std::unique_ptr<ConnectedAnswerService>>()> open_service;
};

class AnswerServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AnswerServer>> create(AnswerServerOptions options);
  ~AnswerServer();

  uint16_t port() const;
  //! Serves until stop() or SIGINT/SIGTERM.
  void run();
  void stop();

 private:
  struct Impl;
  AnswerServer() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::rag
