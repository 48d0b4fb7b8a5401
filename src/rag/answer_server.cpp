#include "rag/answer_server.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "net/http_connection.h"
#include "net/http_listener.h"
#include "net/http_response.h"
#include "rag/answer_api.h"
#include "rag/answer_metrics.h"
#include "rag/service_pool.h"

namespace keel::rag {
namespace {

std::string json_response(int status, const std::string& body, bool keep_alive,
                          std::vector<std::string> headers = {}) {
  return net::http_response(status, "application/json", body, headers, keep_alive);
}

std::string failure_response(const ApiFailure& f, bool keep_alive) {
  std::vector<std::string> headers;
  if (f.status == 401)
    headers.push_back(fmt::format("WWW-Authenticate: Bearer realm=\"keel\", error=\"{}\"", f.code));
  if (f.status == 503) headers.push_back("Retry-After: 2");
  if (f.code == "overloaded") headers.push_back(fmt::format("Retry-After: {}", f.retry_after_s));
  return json_response(f.status, error_body(f), keep_alive, headers);
}

ApiFailure failure_of(const Status& s) {
  switch (s.code()) {
    case StatusCode::unauthenticated: return {401, "authentication_error", "invalid_token", s.message(), ""};
    case StatusCode::unavailable: return {503, "server_error", "warehouse_unavailable", s.message(), ""};
    case StatusCode::permission_denied: return {403, "permission_error", "permission_denied", s.message(), ""};
    default: return {500, "server_error", "internal_error", s.to_string(), ""};
  }
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct AnswerServer::Impl {
  AnswerServerOptions options;
  std::unique_ptr<net::HttpListener> listener;
  std::shared_ptr<ServicePool> services;
  AnswerMetrics metrics;
  std::atomic<size_t> pending{0};  // answered or waiting for a worker
  // Declared last, destroyed first: queued answers finish while the services still exist.
  std::unique_ptr<ThreadPool> workers;

  explicit Impl(AnswerServerOptions o) : options(std::move(o)) {}

  // The whole answer to an authenticated route, as an HTTP response (runs on a worker).
  std::string respond(const net::HttpRequest& req, AnswerService& service);
  Result<semantic::Asker, ApiFailure> authenticate(const net::HttpRequest& req, AnswerService& service);
  void answer(const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req);
};

Result<semantic::Asker, ApiFailure> AnswerServer::Impl::authenticate(const net::HttpRequest& req,
                                                                     AnswerService& service) {
  auto refuse = [&](std::string code, std::string message) -> ApiFailure {
    (void)service.audit_refusal(message, req.body);  // best effort: a refusal is answered anyway
    return {401, "authentication_error", std::move(code), std::move(message), ""};
  };
  auto header = req.header("authorization");
  if (!header) return refuse("missing_token", "this endpoint needs Authorization: Bearer <token>");
  std::string_view value = *header;
  if (value.size() < 7 || (value.substr(0, 7) != "Bearer " && value.substr(0, 7) != "bearer "))
    return refuse("invalid_token", "the Authorization header must be 'Bearer <token>'");
  auto asker = options.authenticate(value.substr(7));
  if (!asker.ok()) return refuse("invalid_token", "the token was refused: " + asker.status().message());
  return *std::move(asker);
}

std::string AnswerServer::Impl::respond(const net::HttpRequest& req, AnswerService& service) {
  const bool keep_alive = req.keep_alive();
  const bool chat = req.path == "/v1/chat/completions";
  const int64_t start = monotonic_now_ns();
  auto seconds = [start] { return static_cast<double>(monotonic_now_ns() - start) / 1e9; };
  // Who asks comes first: a client without a valid token learns nothing, not even whether its
  // body would have been accepted.
  auto asker = authenticate(req, service);
  if (!asker.ok()) {
    metrics.record_refusal(seconds());
    return failure_response(asker.error(), keep_alive);
  }
  ChatRequest parsed;
  if (chat) {
    auto r = parse_chat_request(req.body);
    if (!r.ok()) return failure_response(r.error(), keep_alive);
    parsed = *std::move(r);
  } else {
    auto r = parse_answer_request(req.body);
    if (!r.ok()) return failure_response(r.error(), keep_alive);
    parsed.request = *std::move(r);
  }
  auto answer = service.answer(*asker, parsed.request);
  if (!answer.ok()) return failure_response(failure_of(answer.status()), keep_alive);
  metrics.record_answer(*answer, seconds());
  if (!chat) return json_response(200, dump_json(*answer), keep_alive);
  const std::string model = parsed.model.empty() ? options.model_id : parsed.model;
  if (!parsed.stream) return json_response(200, dump_json(chat_completion(*answer, model, unix_seconds())), keep_alive);
  std::string out = net::http_stream_head(200, "text/event-stream", {"Cache-Control: no-cache"});
  for (const auto& payload : chat_stream_payloads(*answer, model, unix_seconds()))
    out += net::http_chunk(net::sse_event(payload));
  out += net::http_chunk(net::sse_event("[DONE]"));
  out += net::http_chunk("");
  return out;
}

void AnswerServer::Impl::answer(const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req) {
  const bool keep_alive = req.keep_alive();
  if (req.method == "GET" && req.path == "/healthz") {
    c->write(json_response(200, R"({"status":"ok"})", keep_alive));
    return c->done(keep_alive);
  }
  if (req.method == "GET" && req.path == "/v1/models") {
    Json models = {{"object", "list"},
                   {"data", Json::array({{{"id", options.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "keel"}}})}};
    c->write(json_response(200, dump_json(models), keep_alive));
    return c->done(keep_alive);
  }
  if (req.method == "GET" && req.path == "/metrics") {
    c->write(net::http_response(200, "text/plain; version=0.0.4", metrics.render(), {}, keep_alive));
    return c->done(keep_alive);
  }
  if (req.path != "/v1/answers" && req.path != "/v1/chat/completions") {
    c->write(failure_response({404, "invalid_request_error", "not_found", "no such endpoint: " + req.path, ""}, keep_alive));
    return c->done(keep_alive);
  }
  if (req.method != "POST") {
    c->write(json_response(405, error_body({405, "invalid_request_error", "method_not_allowed", "use POST", ""}),
                           keep_alive, {"Allow: POST"}));
    return c->done(keep_alive);
  }
  if (pending.fetch_add(1) >= options.threads + options.max_waiting) {
    pending.fetch_sub(1);
    metrics.record_rejection();
    ApiFailure f{options.overload_status, "overloaded", "overloaded",
                 fmt::format("{} requests are being answered or waiting; retry after {} s", pending.load(),
                             options.retry_after_s),
                 ""};
    f.retry_after_s = options.retry_after_s;
    c->write(failure_response(f, keep_alive));
    return c->done(keep_alive);
  }
  (void)workers->submit([this, c, req = std::move(req), alive = keep_alive]() mutable {
    std::string response;
    {
      ServicePool::Lease lease = services->lease();
      try {
        response = respond(req, lease.service());
      } catch (const std::exception& e) {
        response = failure_response({500, "server_error", "internal_error", e.what(), ""}, false);
        alive = false;  // the response says Connection: close
      }
    }
    pending.fetch_sub(1);
    // The worker keeps no reference: the connection is only ever destroyed on the I/O thread.
    net::HttpConnection& connection = *c;
    connection.post([c = std::move(c), alive, response = std::move(response)]() mutable {
      c->write(std::move(response));
      c->done(alive);
    });
  });
}

Result<std::unique_ptr<AnswerServer>> AnswerServer::create(AnswerServerOptions options) {
  if (!options.authenticate || !options.open_service)
    return Status::invalid_argument("the answer server needs an authenticator and a service factory");
  auto server = std::unique_ptr<AnswerServer>(new AnswerServer());
  server->impl_ = std::make_unique<Impl>(std::move(options));
  Impl& i = *server->impl_;
  const size_t threads = std::max<size_t>(1, i.options.threads);
  KEEL_ASSIGN_OR_RETURN(i.services, ServicePool::create(threads, i.options.open_service));
  i.workers = std::make_unique<ThreadPool>(threads);
  net::HttpConnectionOptions o = net::connection_options(
      i.options.max_body_bytes, i.options.header_timeout_ms, i.options.body_timeout_ms,
      i.options.idle_timeout_ms);
  net::HttpConnectionHooks hooks;
  hooks.handle = [&i](const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req) { i.answer(c, std::move(req)); };
  hooks.error_body = [](const net::HttpError& e) {
    return error_body({e.status, e.status >= 500 ? "server_error" : "invalid_request_error",
                       e.code.empty() ? "invalid_request" : e.code, e.message, ""});
  };
  hooks.on_handler_failure = [](const char* what) { log_error("rag serve: a request failed: {}", what); };
  KEEL_ASSIGN_OR_RETURN(i.listener, net::HttpListener::create(i.options.host, i.options.port, std::move(o), std::move(hooks)));
  return server;
}

AnswerServer::~AnswerServer() = default;

uint16_t AnswerServer::port() const { return impl_->listener->port(); }

void AnswerServer::run() { impl_->listener->run(); }

void AnswerServer::stop() { impl_->listener->stop(); }

}  // namespace keel::rag
