#include "sync/sync_server.h"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/thread_pool.h"
#include "net/http_connection.h"
#include "net/http_listener.h"
#include "net/http_response.h"
#include "sync/server_ledger.h"

namespace keel::sync {
namespace {

constexpr size_t kMaxMutationsPerPush = 100;
constexpr int64_t kMaxPull = 500, kDefaultPull = 200;

struct Failure {
  int status;
  std::string code, message;
};

std::string error_json(const Failure& f) {
  return dump_json({{"error", {{"code", f.code}, {"message", f.message}}}});
}

std::string respond_json(int status, const std::string& body, bool keep_alive, std::vector<std::string> headers = {}) {
  return net::http_response(status, "application/json", body, headers, keep_alive);
}

std::string failure_response(const Failure& f, bool keep_alive) {
  std::vector<std::string> headers;
  if (f.status == 401) headers.push_back("WWW-Authenticate: Bearer realm=\"keel-sync\"");
  if (f.status == 503) headers.push_back("Retry-After: 1");
  return respond_json(f.status, error_json(f), keep_alive, headers);
}

// "after=5&limit=10" -> the value of `name`, if any.
std::optional<std::string> query_value(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return std::nullopt;
}

std::optional<int64_t> integer_of(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  return std::stoll(s);
}

// Ledgers, one per worker: a worker takes one for a request and gives it back.
class LedgerPool {
 public:
  void add(std::unique_ptr<ServerLedger> l) { free_.push_back(std::move(l)); }
  std::unique_ptr<ServerLedger> take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !free_.empty(); });
    auto l = std::move(free_.back());
    free_.pop_back();
    return l;
  }
  void give(std::unique_ptr<ServerLedger> l) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(std::move(l));
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<ServerLedger>> free_;
};

}  // namespace

struct SyncServer::Impl {
  SyncServerOptions options;
  std::unique_ptr<net::HttpListener> listener;
  LedgerPool ledgers;
  MetricsRegistry registry;
  MetricFamily<Counter>& mutations = registry.counter("keel_sync_mutations_total",
                                                      "Pushed mutations by outcome (applied, duplicate, conflict).",
                                                      {"outcome"});
  Counter& pulls = registry.counter("keel_sync_pulls_total", "Pull requests answered.", {}).labels({});
  MetricFamily<Counter>& refusals = registry.counter(
      "keel_sync_refusals_total", "Requests refused, by reason (unauthenticated, forbidden, invalid, unavailable).",
      {"reason"});
  std::unique_ptr<ThreadPool> workers;  // last: destroyed first

  explicit Impl(SyncServerOptions o) : options(std::move(o)) {
    for (const char* s : {"applied", "duplicate", "conflict"}) mutations.labels({s});
    for (const char* s : {"unauthenticated", "forbidden", "invalid", "unavailable"}) refusals.labels({s});
  }

  std::string respond(const net::HttpRequest& req, ServerLedger& ledger);
  std::string push(const std::string& device, const std::string& body, ServerLedger& ledger, bool keep_alive);
  std::string pull(const std::string& target, ServerLedger& ledger, bool keep_alive);
  std::string refuse(const Failure& f, const char* reason, bool keep_alive) {
    refusals.labels({reason}).inc();
    return failure_response(f, keep_alive);
  }
  void handle(const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req);
};

std::string SyncServer::Impl::push(const std::string& device, const std::string& body, ServerLedger& ledger,
                                   bool keep_alive) {
  auto parsed = parse_json(body);
  if (!parsed.ok() || !parsed->is_object())
    return refuse({400, "invalid_request", "the body must be a JSON object"}, "invalid", keep_alive);
  for (const auto& [key, value] : parsed->items())
    if (key != "mutations")
      return refuse({400, "invalid_request", key + ": unknown field of a push"}, "invalid", keep_alive);
  auto list = parsed->find("mutations");
  if (list == parsed->end() || !list->is_array() || list->empty() || list->size() > kMaxMutationsPerPush)
    return refuse({400, "invalid_request", fmt::format("mutations: 1 to {} mutations", kMaxMutationsPerPush)},
                  "invalid", keep_alive);
  std::vector<Mutation> batch;
  for (size_t i = 0; i < list->size(); ++i) {
    auto m = parse_mutation((*list)[i]);
    if (!m.ok())
      return refuse({400, "invalid_request", fmt::format("mutations[{}].{}", i, m.status().message())}, "invalid",
                    keep_alive);
    if (m->device != device)
      return refuse({403, "forbidden", fmt::format("mutations[{}].device: {} is not the device this key was issued to",
                                                   i, m->device)},
                    "forbidden", keep_alive);
    batch.push_back(*std::move(m));
  }
  Json results = Json::array();
  for (const auto& m : batch) {
    auto outcome = ledger.apply(m);
    if (!outcome.ok()) {
      if (outcome.status().code() == StatusCode::unavailable)
        return refuse({503, "database_unavailable", outcome.status().message()}, "unavailable", keep_alive);
      if (outcome.status().code() == StatusCode::already_exists)
        return refuse({409, "mutation_id_reused", outcome.status().message()}, "invalid", keep_alive);
      return failure_response({500, "internal_error", outcome.status().to_string()}, keep_alive);
    }
    mutations.labels({outcome->outcome}).inc();
    results.push_back(outcome->to_json());
  }
  return respond_json(200, dump_json({{"results", results}}), keep_alive);
}

std::string SyncServer::Impl::pull(const std::string& target, ServerLedger& ledger, bool keep_alive) {
  int64_t after = 0, limit = kDefaultPull;
  if (auto a = query_value(target, "after")) {
    auto v = integer_of(*a);
    if (!v) return refuse({400, "invalid_request", "after: a cursor (a non-negative integer)"}, "invalid", keep_alive);
    after = *v;
  }
  if (auto l = query_value(target, "limit")) {
    auto v = integer_of(*l);
    if (!v || *v < 1 || *v > kMaxPull)
      return refuse({400, "invalid_request", fmt::format("limit: 1 to {}", kMaxPull)}, "invalid", keep_alive);
    limit = *v;
  }
  auto changes = ledger.pull(after, limit);
  if (!changes.ok()) {
    if (changes.status().code() == StatusCode::unavailable)
      return refuse({503, "database_unavailable", changes.status().message()}, "unavailable", keep_alive);
    return failure_response({500, "internal_error", changes.status().to_string()}, keep_alive);
  }
  Json out = Json::array();
  int64_t cursor = after;
  for (const auto& c : *changes) {
    out.push_back(c.to_json());
    cursor = c.cursor;
  }
  pulls.inc();
  return respond_json(200, dump_json({{"changes", out}, {"cursor", cursor}}), keep_alive);
}

std::string SyncServer::Impl::respond(const net::HttpRequest& req, ServerLedger& ledger) {
  const bool keep_alive = req.keep_alive();
  auto header = req.header("authorization");
  if (!header || header->size() < 8 || (header->substr(0, 7) != "Bearer " && header->substr(0, 7) != "bearer "))
    return refuse({401, "missing_key", "this endpoint needs Authorization: Bearer <device key>"}, "unauthenticated",
                  keep_alive);
  auto device = options.authenticate(header->substr(7));
  if (!device.ok()) return refuse({401, "invalid_key", device.status().message()}, "unauthenticated", keep_alive);
  if (req.path == "/v1/sync/push") return push(*device, req.body, ledger, keep_alive);
  return pull(req.target, ledger, keep_alive);
}

void SyncServer::Impl::handle(const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req) {
  const bool keep_alive = req.keep_alive();
  auto answer_now = [&](std::string response) {
    c->write(std::move(response));
    c->done(keep_alive);
  };
  if (req.method == "GET" && req.path == "/healthz") return answer_now(respond_json(200, R"({"status":"ok"})", keep_alive));
  if (req.method == "GET" && req.path == "/metrics")
    return answer_now(net::http_response(200, "text/plain; version=0.0.4", registry.render(), {}, keep_alive));
  const bool push_route = req.path == "/v1/sync/push", pull_route = req.path == "/v1/sync/pull";
  if (!push_route && !pull_route)
    return answer_now(failure_response({404, "not_found", "no such endpoint: " + req.path}, keep_alive));
  if (req.method != (push_route ? "POST" : "GET"))
    return answer_now(respond_json(405, error_json({405, "method_not_allowed", push_route ? "use POST" : "use GET"}),
                                   keep_alive, {push_route ? "Allow: POST" : "Allow: GET"}));
  (void)workers->submit([this, c, req = std::move(req), alive = keep_alive]() mutable {
    std::string response;
    {
      auto ledger = ledgers.take();
      try {
        response = respond(req, *ledger);
      } catch (const std::exception& e) {
        response = failure_response({500, "internal_error", e.what()}, false);
        alive = false;
      }
      ledgers.give(std::move(ledger));
    }
    net::HttpConnection& connection = *c;
    connection.post([c = std::move(c), alive, response = std::move(response)]() mutable {
      c->write(std::move(response));
      c->done(alive);
    });
  });
}

Result<std::unique_ptr<SyncServer>> SyncServer::create(SyncServerOptions options) {
  if (!options.authenticate) return Status::invalid_argument("the sync server needs an authenticator");
  std::unique_ptr<SyncServer> server(new SyncServer());
  server->impl_ = std::make_unique<Impl>(std::move(options));
  Impl& i = *server->impl_;
  const size_t threads = std::max<size_t>(1, i.options.threads);
  for (size_t t = 0; t < threads; ++t) {
    KEEL_ASSIGN_OR_RETURN(auto ledger, ServerLedger::connect(i.options.conninfo));
    if (t == 0) KEEL_RETURN_IF_ERROR(ledger->install());
    i.ledgers.add(std::move(ledger));
  }
  i.workers = std::make_unique<ThreadPool>(threads);
  net::HttpConnectionOptions o = net::connection_options(
      i.options.max_body_bytes, i.options.header_timeout_ms, i.options.body_timeout_ms,
      i.options.idle_timeout_ms);
  net::HttpConnectionHooks hooks;
  hooks.handle = [&i](const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req) { i.handle(c, std::move(req)); };
  hooks.error_body = [](const net::HttpError& e) {
    return error_json({e.status, e.code.empty() ? "invalid_request" : e.code, e.message});
  };
  hooks.on_handler_failure = [](const char* what) { log_error("sync serve: a request failed: {}", what); };
  KEEL_ASSIGN_OR_RETURN(i.listener, net::HttpListener::create(i.options.host, i.options.port, std::move(o), std::move(hooks)));
  return server;
}

SyncServer::~SyncServer() = default;

uint16_t SyncServer::port() const { return impl_->listener->port(); }

void SyncServer::run() { impl_->listener->run(); }

void SyncServer::stop() { impl_->listener->stop(); }

}  // namespace keel::sync
