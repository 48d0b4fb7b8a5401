#include "serve/server.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "core/version.h"
#include "engine/context.h"
#include "engine/model.h"
#include "net/http_connection.h"
#include "net/http_response.h"
#include "serve/embedding_queue.h"

namespace keel::serve {

using asio::ip::tcp;

namespace {

std::string model_name_of(const std::string& path, const std::string& given) {
  if (!given.empty()) return given;
  std::string stem = std::filesystem::path(path).filename().string();
  if (stem.size() > 5 && stem.ends_with(".gguf")) stem.resize(stem.size() - 5);
  return stem;
}

std::string_view finish_reason_api(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::stop:
    case engine::FinishReason::end_of_generation:
      return "stop";
    case engine::FinishReason::length:
    case engine::FinishReason::context_full:
      return "length";
    case engine::FinishReason::cancelled:
      return "cancelled";
  }
  return "stop";
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// The OpenAI error type for an HTTP status.
std::string error_type_of(int status) {
  if (status == 401) return "invalid_request_error";
  if (status == 429 || status == 503) return "overloaded";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

bool is_body_endpoint(const std::string& path) {
  return path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/embeddings";
}

bool is_known_path(const std::string& path) {
  return is_body_endpoint(path) || is_probe_path(path) || path == "/v1/models";
}

}  // namespace

using net::HttpConnection;
using net::HttpError;
using net::HttpRequest;
using net::http_chunk;
using net::http_response;
using net::http_stream_head;
using net::sse_event;

struct Server::Impl {
  ServerOptions options;
  std::string model_id, embed_model_id;
  std::string model_fingerprint_text = "keel";  // published with ready (see Loaded)
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io};
  asio::steady_timer drain_timer{io}, accept_timer{io};
  MetricsRegistry registry;
  std::unique_ptr<ServeMetrics> metrics;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<ConnectionTable> connections;  // I/O thread only
  int64_t accept_backoff_ms = 0;                 // I/O thread only; 0: accepting normally
  std::unique_ptr<ThreadPool> tokenizers;  // prompts are tokenized here, not on the I/O thread

  // Made by the loader thread and published by `ready` (release); the I/O thread reads them
  // only after it saw ready (acquire), the main thread after joining the loader.
  std::unique_ptr<engine::Model> model, embed_model;
  std::unique_ptr<engine::Context> embed_context;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<EmbeddingQueue> embeddings;
  engine::ChatTemplate chat_template = engine::ChatTemplate::raw;

  // The load and its interruption (SIGTERM while loading).
  std::mutex load_mutex;
  std::condition_variable load_cv;
  bool abort_load = false;                 // guarded by load_mutex
  Scheduler* loading_scheduler = nullptr;  // guarded by load_mutex: the one warming up
  std::thread loader;

  std::atomic<bool> ready{false}, draining{false}, load_failed{false};
  std::string load_error;  // written before load_failed is set
  std::atomic<uint64_t> next_id{1};
  std::chrono::steady_clock::time_point drain_deadline;
  int64_t created_unix = 0;

  void accept();
  void on_accepted(tcp::socket socket);
  void start_connection(tcp::socket socket, std::string peer, ConnectionAdmission admission);
  void load_models();
  struct Loaded;
  bool load_aborted();
  Status load_generator(Loaded* loaded);
  Status load_embedder(Loaded* loaded);
  Status start_scheduler(Loaded* loaded);
  void start_embedding_queue(Loaded* loaded);
  void abort_loading();
  void begin_drain();
  void check_drain();
  std::optional<HttpError> check_head(const HttpRequest& head, bool probes_only);
  void handle(const std::shared_ptr<HttpConnection>& c, HttpRequest request);
  void handle_completion(const std::shared_ptr<HttpConnection>& c, const HttpRequest& request,
                         bool chat);
  struct PendingCompletion;
  void submit_completion(const std::shared_ptr<HttpConnection>& c, PendingCompletion& pending);
  void handle_embeddings(const std::shared_ptr<HttpConnection>& c, const HttpRequest& request);
  void count(int status, const std::string& tenant) {
    metrics->requests.labels({std::to_string(status), tenant}).inc();
  }
};


namespace {

// Delivers a generation to its connection: each piece is posted to the I/O thread.
class CompletionSink : public RequestSink {
 public:
  CompletionSink(Server::Impl& server, std::shared_ptr<HttpConnection> c, CompletionRequest req,
                 std::string id, ModelLabel model, int64_t created, std::string tenant,
                 int64_t charged_tokens, bool keep_alive)
      : server_(server),
        conn_(std::move(c)),
        req_(std::move(req)),
        id_(std::move(id)),
        model_(std::move(model)),
        created_(created),
        tenant_(std::move(tenant)),
        charged_(charged_tokens),
        keep_alive_(keep_alive) {}

  void start_stream() {
    conn_->write(http_stream_head(200, "text/event-stream", {"X-Request-Id: " + id_}));
  }

  void on_text(std::string_view delta, const std::vector<engine::TokenLogprob>* logprobs) override {
    std::vector<TokenLogprobJson> lp;
    if (logprobs && req_.logprobs) lp.push_back(convert(*logprobs));
    if (!req_.stream) {
      text_ += delta;
      all_logprobs_.insert(all_logprobs_.end(), lp.begin(), lp.end());
      return;
    }
    if (delta.empty() && lp.empty()) return;
    std::string chunk = http_chunk(
        sse_event(completion_chunk(req_, id_, created_, model_, delta, first_, nullptr, lp)));
    first_ = false;
    auto c = conn_;
    asio::post(server_.io,
               [c, chunk = std::move(chunk)]() mutable { c->write(std::move(chunk)); });
  }

  void on_finish(const RequestOutcome& o) override {
    auto c = conn_;
    Server::Impl& s = server_;
    s.gateway->release(tenant_,
                       std::max<int64_t>(0, charged_ - o.prompt_tokens - o.completion_tokens));
    Usage usage{o.prompt_tokens, o.completion_tokens, o.cached_tokens};
    std::string reason(finish_reason_api(o.reason));
    std::string out;
    int status = 200;
    if (!o.error.empty()) {
      status = 500;
      ApiError e{500, "server_error", "generation failed: " + o.error, "", "engine_error"};
      out = req_.stream ? http_chunk(sse_event(error_body(e))) + http_chunk("")
                        : http_response(500, "application/json", error_body(e), {}, keep_alive_);
    } else if (req_.stream) {
      if (o.reason != engine::FinishReason::cancelled) {
        out += http_chunk(
            sse_event(completion_chunk(req_, id_, created_, model_, "", first_, &reason)));
        if (req_.include_usage)
          out += http_chunk(sse_event(usage_chunk(req_, id_, created_, model_, usage)));
        out += http_chunk(sse_event("[DONE]"));
      }
      out += http_chunk("");
    } else {
      out = http_response(
          200, "application/json",
          completion_response(req_, id_, created_, model_, text_, reason, usage, all_logprobs_),
          {"X-Request-Id: " + id_}, keep_alive_);
    }
    if (o.reason == engine::FinishReason::cancelled && o.error.empty()) status = 499;
    bool keep = keep_alive_;
    std::string tenant = tenant_;
    asio::post(s.io, [&s, c, out = std::move(out), keep, status, tenant]() mutable {
      s.count(status, tenant);
      if (c->closed()) return;
      c->write(std::move(out));
      c->done(keep);
    });
  }

 private:
  TokenLogprobJson convert(const std::vector<engine::TokenLogprob>& lp) {
    const auto& tok = server_.model->tokenizer();
    TokenLogprobJson t{tok.token_to_piece(lp[0].token, true), lp[0].logprob, {}};
    for (size_t i = 1; i < lp.size(); ++i)
      t.top.emplace_back(tok.token_to_piece(lp[i].token, true), lp[i].logprob);
    return t;
  }

  Server::Impl& server_;
  std::shared_ptr<HttpConnection> conn_;
  CompletionRequest req_;
  std::string id_;
  ModelLabel model_;
  int64_t created_;
  std::string tenant_;
  int64_t charged_;
  bool keep_alive_;
  bool first_ = true;
  std::string text_;
  std::vector<TokenLogprobJson> all_logprobs_;
};

void respond_error(const std::shared_ptr<HttpConnection>& c, const ApiError& e, bool keep_alive,
                   const std::vector<std::string>& headers = {}) {
  c->write(http_response(e.status, "application/json", error_body(e), headers, keep_alive));
  c->done(keep_alive);
}

// Errors that mean the process (or the system) is out of descriptors or memory for a socket:
// accept() would fail again at once, since the connection stays in the backlog.
bool is_resource_error(const std::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) return;
    if (ec) {
      const bool fd_limit = is_resource_error(ec);
      metrics->accept_errors.labels({fd_limit ? "fd_limit" : "other"}).inc();
      // The failed connection stays in the listen backlog and the listening socket stays
      // readable: accepting again at once would spin. Wait, doubling up to a second; open
      // connections are served meanwhile and free descriptors as they close.
      if (accept_backoff_ms == 0) {
        log_warn("serve: accept failed ({}); backing off", ec.message());
      }
      accept_backoff_ms = std::clamp<int64_t>(accept_backoff_ms * 2, 10, 1000);
      accept_timer.expires_after(std::chrono::milliseconds(accept_backoff_ms));
      accept_timer.async_wait([this](std::error_code e) {
        if (!e && acceptor.is_open()) accept();
      });
      return;
    }
    accept_backoff_ms = 0;
    on_accepted(std::move(socket));
    accept();
  });
}

void Server::Impl::on_accepted(tcp::socket socket) {
  std::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return;  // already gone
  std::string peer = remote.address().to_string();
  const ConnectionAdmission admission = connections->open(peer);
  if (admission == ConnectionAdmission::refuse_per_peer ||
      admission == ConnectionAdmission::refuse_total) {
    const bool per_peer = admission == ConnectionAdmission::refuse_per_peer;
    metrics->connections_refused.labels({per_peer ? "per_peer" : "max_connections"}).inc();
    // Say why without keeping any state: a new socket's send buffer is empty, so a
    // non-blocking write of a short answer completes at once (or is dropped).
    ApiError e{503, "overloaded",
               per_peer ? fmt::format("this client already has {} open connections, the limit",
                                      options.connections.max_connections_per_peer)
                        : "the server is at its connection limit",
               "", "too_many_connections"};
    std::string answer =
        http_response(503, "application/json", error_body(e), {"Retry-After: 1"}, false);
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(answer), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  metrics->connections_open.inc();
  start_connection(std::move(socket), std::move(peer), admission);
}

// A connection admitted by the connection table: the shared HTTP connection with this server's
// deadlines, head check, handler, error bodies and metrics.
void Server::Impl::start_connection(tcp::socket socket, std::string peer,
                                    ConnectionAdmission admission) {
  const bool probes_only = admission == ConnectionAdmission::probes_only;
  const ConnectionLimits& l = options.connections;
  net::HttpConnectionOptions o;
  o.limits = options.http;
  o.header_timeout_ms = l.header_timeout_ms;
  o.body_timeout_ms = l.body_timeout_ms;
  o.idle_timeout_ms = l.idle_timeout_ms;
  o.one_request_only = probes_only;
  net::HttpConnectionHooks hooks;
  hooks.check_head = [this, probes_only](const HttpRequest& head) {
    return check_head(head, probes_only);
  };
  hooks.handle = [this](const std::shared_ptr<HttpConnection>& c, HttpRequest r) {
    handle(c, std::move(r));
  };
  hooks.error_body = [](const HttpError& e) {
    return error_body({e.status, error_type_of(e.status), e.message, "", e.code});
  };
  hooks.on_timeout = [this](std::string_view phase) {
    metrics->connection_timeouts.labels({std::string(phase)}).inc();
  };
  hooks.on_handler_failure = [this, peer](const char* what) {
    log_error("serve: request on {} failed: {}", peer, what);
    count(500, "unknown");
  };
  hooks.on_close = [this, peer, admission] {
    connections->close(peer, admission);
    metrics->connections_open.dec();
  };
  net::HttpConnection::start(std::move(socket), std::move(o), std::move(hooks));
}

std::optional<HttpError> Server::Impl::check_head(const HttpRequest& head, bool probes_only) {
  if (probes_only && !is_probe_path(head.path)) {
    return HttpError{503,
                     "the server is at its connection limit; only health probes are answered",
                     "too_many_connections",
                     {"Retry-After: 1"}};
  }
  if (head.path.rfind("/v1/", 0) == 0) {
    auto tenant = gateway->authenticate(head.header("authorization"));
    if (!tenant.ok()) {
      count(401, "unknown");
      return HttpError{401,
                       tenant.status().message(),
                       "invalid_api_key",
                       {"WWW-Authenticate: Bearer realm=\"keel\""}};
    }
  }
  // A body only where one is read: nobody makes the server hold bytes it would discard.
  auto length = head.header("content-length");
  if (length && *length != "0" && !is_body_endpoint(head.path)) {
    if (!is_known_path(head.path))
      return HttpError{404, "unknown path " + head.path, "not_found", {}};
    return HttpError{405, head.path + " takes no request body", "method_not_allowed", {}};
  }
  return std::nullopt;
}

// What the loader thread makes before it publishes it (see load_models).
struct Server::Impl::Loaded {
  std::unique_ptr<engine::Model> model, embed_model;
  std::unique_ptr<engine::Context> embed_context;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<EmbeddingQueue> embeddings;
  engine::ChatTemplate chat_template = engine::ChatTemplate::raw;
  std::string fingerprint;  // serve/openai_api.h model_fingerprint
};

namespace {

//! What a load step returns when a shutdown interrupted the load: not an error to report.
Status load_interrupted() { return Status::cancelled("the load was interrupted"); }

}  // namespace

bool Server::Impl::load_aborted() {
  std::lock_guard lock(load_mutex);
  return abort_load;
}

// The generative model and its chat template.
Status Server::Impl::load_generator(Loaded* loaded) {
  if (options.startup_delay_ms > 0) {
    log_info("serve: delaying the model load by {} ms (--startup-delay-ms)",
             options.startup_delay_ms);
    std::unique_lock lock(load_mutex);
    load_cv.wait_for(lock, std::chrono::milliseconds(options.startup_delay_ms),
                     [&] { return abort_load; });
  }
  if (load_aborted()) return load_interrupted();
  log_info("serve: loading {}", options.model_path);
  KEEL_ASSIGN_OR_RETURN(loaded->model, engine::Model::load(options.model_path));
  // The file's hash names what answers in every response (clients compare it with their copy).
  std::string sha256 = options.model_sha256;
  if (sha256.empty()) {
    const int64_t start = monotonic_now_ns();
    KEEL_ASSIGN_OR_RETURN(Sha256Digest digest, sha256_file(options.model_path));
    sha256 = to_hex(digest);
    log_info("serve: hashed {} for the fingerprint in {:.0f} ms (keel check-model records it)", options.model_path,
             static_cast<double>(monotonic_now_ns() - start) / 1e6);
  }
  loaded->fingerprint = model_fingerprint(sha256);
  if (loaded->model->config().arch == engine::Architecture::bert) {
    return Status::invalid_argument(
        "--model must be a generative model; pass embedding models with --embed-model");
  }
  if (options.chat_template) {
    loaded->chat_template = *options.chat_template;
  } else {
    KEEL_ASSIGN_OR_RETURN(loaded->chat_template,
                          engine::chat_template_of(loaded->model->file()));
  }
  return Status();
}

// The embedding model and its context, when one is named.
Status Server::Impl::load_embedder(Loaded* loaded) {
  if (options.embed_model_path.empty()) return Status();
  if (load_aborted()) return load_interrupted();
  KEEL_ASSIGN_OR_RETURN(loaded->embed_model, engine::Model::load(options.embed_model_path));
  engine::ContextOptions c;
  c.n_threads = options.scheduler.threads;
  c.n_ctx = loaded->embed_model->config().n_ctx_train;
  KEEL_ASSIGN_OR_RETURN(loaded->embed_context, engine::Context::create(*loaded->embed_model, c));
  return Status();
}

// The scheduler, started and warmed up; a shutdown interrupts the warm-up.
Status Server::Impl::start_scheduler(Loaded* loaded) {
  if (load_aborted()) return load_interrupted();
  loaded->scheduler = std::make_unique<Scheduler>(*loaded->model, options.scheduler, metrics.get());
  KEEL_RETURN_IF_ERROR(loaded->scheduler->start());
  {
    std::lock_guard lock(load_mutex);
    if (abort_load) return load_interrupted();
    loading_scheduler = loaded->scheduler.get();  // abort_loading() interrupts its warm-up
  }
  log_info("serve: warming up");
  Status warm = loaded->scheduler->warm_up();
  {
    std::lock_guard lock(load_mutex);
    loading_scheduler = nullptr;
    if (abort_load) return load_interrupted();  // the scheduler stops as it goes out of scope
  }
  return warm;
}

// The queue that embeds inputs in slices on its own thread, when there is an embedding model.
void Server::Impl::start_embedding_queue(Loaded* loaded) {
  if (!loaded->embed_context) return;
  engine::Context* ctx = loaded->embed_context.get();
  const engine::Tokenizer* tok = &loaded->embed_model->tokenizer();
  auto embed = [ctx, tok](std::span<const std::string> inputs,
                          int64_t* tokens) -> Result<std::vector<std::vector<float>>> {
    std::vector<std::vector<engine::TokenId>> ids;
    const int64_t limit = ctx->options().n_ctx;
    for (const auto& text : inputs) {
      auto t = tok->encode(text, true, false);
      if (static_cast<int64_t>(t.size()) > limit) {
        return Status::invalid_argument(
            fmt::format("an input has {} tokens; the embedding model takes {}", t.size(), limit));
      }
      *tokens += static_cast<int64_t>(t.size());
      ids.push_back(std::move(t));
    }
    return ctx->embed_batch(ids);
  };
  EmbeddingQueue::Options eo;
  eo.inputs_per_slice = options.embedding_inputs_per_slice;
  eo.slice_delay_ms = options.scheduler.step_delay_ms;
  loaded->embeddings = std::make_unique<EmbeddingQueue>(embed, eo, metrics.get());
}

// On the loader thread: loads, starts and warms up, then publishes with `ready`. A failure is
// kept for the probes (/startupz says why); an interrupted load just stops.
void Server::Impl::load_models() {
  Loaded loaded;
  Status s = load_generator(&loaded);
  if (s.ok()) s = load_embedder(&loaded);
  if (s.ok()) s = start_scheduler(&loaded);
  if (s.code() == StatusCode::cancelled) return;
  if (!s.ok()) {
    load_error = s.to_string();
    load_failed = true;
    log_error("serve: {}", load_error);
    return;
  }
  start_embedding_queue(&loaded);
  log_info("serve: ready ({} as '{}', {} running x {} tokens, {} KV blocks)", options.model_path,
           model_id, options.scheduler.max_running, options.scheduler.n_ctx,
           loaded.scheduler->kv_blocks_total());
  // Publish: everything above is visible to whoever sees ready == true.
  model = std::move(loaded.model);
  chat_template = loaded.chat_template;
  model_fingerprint_text = loaded.fingerprint;
  embed_model = std::move(loaded.embed_model);
  embed_context = std::move(loaded.embed_context);
  scheduler = std::move(loaded.scheduler);
  embeddings = std::move(loaded.embeddings);
  ready.store(true, std::memory_order_release);
}

void Server::Impl::abort_loading() {
  std::lock_guard lock(load_mutex);
  abort_load = true;
  if (loading_scheduler) loading_scheduler->interrupt();
  load_cv.notify_all();
}

void Server::Impl::begin_drain() {
  if (draining.exchange(true)) return;
  log_info("serve: draining (grace period {} s)", options.grace_period_s);
  drain_deadline = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(options.grace_period_s));
  check_drain();
}

void Server::Impl::check_drain() {
  const bool loaded = ready.load(std::memory_order_acquire);
  if (!loaded) abort_loading();  // nothing admitted yet: stop the load instead of waiting for it
  const bool idle = !loaded || (scheduler->running() == 0 && scheduler->waiting() == 0 &&
                                (!embeddings || embeddings->jobs() == 0));
  if (idle || std::chrono::steady_clock::now() >= drain_deadline) {
    if (loaded) {
      scheduler->stop(/*drain=*/idle);
      if (embeddings) embeddings->stop();
    }
    std::error_code ignored;
    acceptor.close(ignored);
    accept_timer.cancel();
    signals.cancel(ignored);
    // Let the last responses go out, then stop.
    drain_timer.expires_after(std::chrono::milliseconds(100));
    drain_timer.async_wait([this](std::error_code) { io.stop(); });
    return;
  }
  drain_timer.expires_after(std::chrono::milliseconds(50));
  drain_timer.async_wait([this](std::error_code ec) {
    if (!ec) check_drain();
  });
}

void Server::Impl::handle(const std::shared_ptr<HttpConnection>& c, HttpRequest r) {
  if (options.on_request) options.on_request(r);
  const bool keep = r.keep_alive();
  auto simple = [&](int status, std::string_view type, std::string_view body) {
    c->write(http_response(status, type, body, {}, keep));
    c->done(keep);
  };
  if (r.path == "/livez") return simple(200, "text/plain", "ok\n");
  if (r.path == "/startupz") {
    if (load_failed) return simple(503, "text/plain", "model failed to load: " + load_error + "\n");
    return ready ? simple(200, "text/plain", "started\n") : simple(503, "text/plain", "loading\n");
  }
  if (r.path == "/readyz") {
    if (draining) return simple(503, "text/plain", "draining\n");
    return ready ? simple(200, "text/plain", "ready\n")
                 : simple(503, "text/plain", load_failed ? "failed\n" : "loading\n");
  }
  if (r.path == "/metrics")
    return simple(200, "text/plain; version=0.0.4; charset=utf-8", registry.render());
  if (r.path.rfind("/v1/", 0) != 0) {
    return respond_error(
        c, {404, "invalid_request_error", "unknown path " + r.path, "", "not_found"}, keep);
  }
  // The head check refused requests without a valid key before their body was read.
  auto tenant = gateway->authenticate(r.header("authorization"));
  if (!tenant.ok()) {
    count(401, "unknown");
    return respond_error(
        c, {401, "invalid_request_error", tenant.status().message(), "", "invalid_api_key"}, keep,
        {"WWW-Authenticate: Bearer realm=\"keel\""});
  }
  if (r.path == "/v1/models") {
    if (r.method != "GET")
      return respond_error(c, {405, "invalid_request_error", "use GET", "", "method_not_allowed"},
                           keep);
    std::vector<std::string> ids;
    if (gateway->allows(*tenant, model_id)) ids.push_back(model_id);
    if (!embed_model_id.empty() && gateway->allows(*tenant, embed_model_id))
      ids.push_back(embed_model_id);
    return simple(200, "application/json", models_response(ids, created_unix));
  }
  if (r.method != "POST")
    return respond_error(c, {405, "invalid_request_error", "use POST", "", "method_not_allowed"},
                         keep);
  if (r.path == "/v1/chat/completions") return handle_completion(c, r, true);
  if (r.path == "/v1/completions") return handle_completion(c, r, false);
  if (r.path == "/v1/embeddings") return handle_embeddings(c, r);
  respond_error(c, {404, "invalid_request_error", "unknown path " + r.path, "", "not_found"}, keep);
}

// A generation request between its parse (I/O thread) and its submission to the scheduler
// (I/O thread again), while its prompt is tokenized on the tokenizer pool.
struct Server::Impl::PendingCompletion {
  CompletionRequest req;
  std::string tenant;
  bool keep = true;
  bool chat = true;
  std::vector<engine::TokenId> prompt;
  std::string error;  // set when tokenizing threw
};

namespace {

QueueState queue_state_of(const Scheduler& s, const SchedulerOptions& o, int64_t max_tokens) {
  return QueueState{s.waiting(),
                    s.running(),
                    o.max_running,
                    s.queued_tokens(),
                    s.kv_blocks_total() * o.kv_block_size,
                    s.drain_tokens_per_s(),
                    s.slot_release_per_s(),
                    s.slot_free_in_s(),
                    static_cast<double>(max_tokens) * s.step_seconds()};
}

}  // namespace

void Server::Impl::handle_completion(const std::shared_ptr<HttpConnection>& c, const HttpRequest& r,
                                     bool chat) {
  const bool keep = r.keep_alive();
  std::string tenant = *gateway->authenticate(r.header("authorization"));
  auto fail = [&](const ApiError& e, const std::vector<std::string>& headers = {}) {
    count(e.status, tenant);
    respond_error(c, e, keep, headers);
  };
  if (draining)
    return fail({503, "overloaded", "the server is shutting down; retry on another replica", "",
                 "draining"},
                {"Retry-After: 1"});
  if (!ready.load(std::memory_order_acquire)) {
    return fail(
        {503, "overloaded", load_failed ? "the model failed to load" : "the model is still loading",
         "", "loading"},
        {"Retry-After: 5"});
  }
  auto parsed = parse_completion_request(r.body, chat, options.request_limits);
  if (!parsed.ok()) return fail(parsed.error());
  CompletionRequest& req = *parsed;
  if (req.model != model_id && !(!embed_model_id.empty() && req.model == embed_model_id)) {
    return fail(
        {404, "invalid_request_error",
         fmt::format("model '{}' does not exist; this server has '{}'", req.model, model_id),
         "model", "model_not_found"});
  }
  if (req.model != model_id) {
    return fail({400, "invalid_request_error",
                 fmt::format("model '{}' is an embedding model", req.model), "model",
                 "wrong_model_kind"});
  }
  if (!gateway->allows(tenant, req.model)) {
    return fail({403, "permission_error",
                 fmt::format("tenant '{}' may not use model '{}'", tenant, req.model), "model",
                 "model_not_allowed"});
  }
  // Under overload most requests are refused, and the I/O thread that refuses them also
  // delivers the admitted ones' tokens: refuse before tokenizing when the prompt cannot change
  // the answer (admission is monotone in the tokens, so a refusal with a zero-token prompt
  // stands for any prompt).
  if (req.max_tokens) {
    AdmissionDecision early = admit(queue_state_of(*scheduler, options.scheduler, *req.max_tokens),
                                    options.admission, *req.max_tokens);
    if (!early.admitted) {
      metrics->rejections.labels({early.reason}).inc();
      return fail({429, "overloaded", early.message, "", early.reason},
                  {fmt::format("Retry-After: {}", early.retry_after_s)});
    }
  }
  // The prompt is tokenized on the tokenizer pool: a 4 MB prompt takes seconds, and this
  // thread answers probes and streams every client's tokens.
  auto pending = std::make_shared<PendingCompletion>();
  pending->req = std::move(req);
  pending->tenant = tenant;
  pending->keep = keep;
  pending->chat = chat;
  metrics->tokenizing.inc();
  tokenizers->submit([this, c, pending] {
    try {
      const auto& tokenizer = model->tokenizer();
      if (pending->chat) {
        std::string text = engine::format_chat(chat_template, pending->req.messages, true);
        pending->prompt = tokenizer.encode(text, true, chat_template != engine::ChatTemplate::raw);
      } else {
        pending->prompt = tokenizer.encode(pending->req.prompt, true, false);
      }
    } catch (const std::exception& e) {
      pending->error = e.what();
    }
    metrics->tokenizing.dec();
    asio::post(io, [this, c, pending] {
      if (c->closed()) {
        count(499, pending->tenant);
        return;
      }
      submit_completion(c, *pending);
    });
  });
}

void Server::Impl::submit_completion(const std::shared_ptr<HttpConnection>& c, PendingCompletion& p) {
  CompletionRequest& req = p.req;
  const bool keep = p.keep, chat = p.chat;
  const std::string& tenant = p.tenant;
  auto fail = [&](const ApiError& e, const std::vector<std::string>& headers = {}) {
    count(e.status, tenant);
    respond_error(c, e, keep, headers);
  };
  if (!p.error.empty()) {
    log_error("serve: tokenizing a prompt failed: {}", p.error);
    return fail({500, "server_error", "the prompt could not be tokenized", "", "internal_error"});
  }
  if (draining)
    return fail({503, "overloaded", "the server is shutting down; retry on another replica", "",
                 "draining"},
                {"Retry-After: 1"});
  std::vector<engine::TokenId>& prompt = p.prompt;
  if (chat && !engine::end_of_turn(chat_template).empty())
    req.stop.push_back(std::string(engine::end_of_turn(chat_template)));
  const int64_t n_ctx = options.scheduler.n_ctx;
  if (prompt.empty())
    return fail({400, "invalid_request_error", "the prompt is empty", chat ? "messages" : "prompt",
                 "empty_prompt"});
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    return fail({400, "invalid_request_error",
                 fmt::format("the prompt has {} tokens; this model's context holds {}",
                             prompt.size(), n_ctx),
                 chat ? "messages" : "prompt", "context_length_exceeded"});
  }
  int64_t max_tokens = req.max_tokens.value_or(std::min<int64_t>(
      options.request_limits.max_tokens_limit, n_ctx - static_cast<int64_t>(prompt.size())));
  if (static_cast<int64_t>(prompt.size()) + max_tokens > n_ctx) {
    return fail(
        {400, "invalid_request_error",
         fmt::format("the prompt ({} tokens) plus max_tokens ({}) exceeds the context of {} tokens",
                     prompt.size(), max_tokens, n_ctx),
         "max_tokens", "context_length_exceeded"});
  }
  const int64_t request_tokens = static_cast<int64_t>(prompt.size()) + max_tokens;
  QuotaDecision quota = gateway->acquire(tenant, request_tokens);
  if (!quota.admitted) {
    metrics->rejections.labels({"tenant_quota"}).inc();
    int retry = std::max(1, static_cast<int>(std::ceil(quota.retry_after_s)));
    return fail({429, "rate_limit_exceeded", quota.message, "", "rate_limit_exceeded"},
                {fmt::format("Retry-After: {}", retry)});
  }
  AdmissionDecision admission = admit(queue_state_of(*scheduler, options.scheduler, max_tokens),
                                      options.admission, request_tokens);
  if (!admission.admitted) {
    gateway->release(tenant, request_tokens);
    metrics->rejections.labels({admission.reason}).inc();
    return fail({429, "overloaded", admission.message, "", admission.reason},
                {fmt::format("Retry-After: {}", admission.retry_after_s)});
  }
  auto sr = std::make_shared<SchedulerRequest>();
  sr->tenant = tenant;
  sr->prompt = std::move(prompt);
  sr->max_tokens = max_tokens;
  sr->sampling.temperature = req.temperature;
  sr->sampling.top_p = req.top_p;
  sr->sampling.top_k = req.top_k;
  sr->sampling.min_p = req.min_p;
  sr->sampling.presence_penalty = req.presence_penalty;
  sr->sampling.frequency_penalty = req.frequency_penalty;
  sr->sampling.seed = req.seed.value_or(next_id.load() * 0x9E3779B97F4A7C15ull);
  sr->stop = req.stop;
  sr->top_logprobs = req.logprobs ? req.top_logprobs : -1;
  sr->arrival_ns = monotonic_now_ns();
  std::string id = fmt::format("{}-{:016x}", chat ? "chatcmpl" : "cmpl", next_id++);
  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  auto sink =
      std::make_shared<CompletionSink>(*this, c, req, id, ModelLabel{model_id, model_fingerprint_text}, created, tenant, request_tokens, keep);
  if (req.stream) sink->start_stream();
  sr->sink = sink;
  c->set_abort([sr] { sr->cancelled = true; });
  scheduler->submit(std::move(sr));
}

void Server::Impl::handle_embeddings(const std::shared_ptr<HttpConnection>& c, const HttpRequest& r) {
  const bool keep = r.keep_alive();
  std::string tenant = *gateway->authenticate(r.header("authorization"));
  auto fail = [&](const ApiError& e, const std::vector<std::string>& headers = {}) {
    count(e.status, tenant);
    respond_error(c, e, keep, headers);
  };
  if (draining)
    return fail({503, "overloaded", "the server is shutting down", "", "draining"},
                {"Retry-After: 1"});
  if (!ready.load(std::memory_order_acquire))
    return fail({503, "overloaded", "the model is still loading", "", "loading"},
                {"Retry-After: 5"});
  auto parsed = parse_embedding_request(r.body, options.request_limits);
  if (!parsed.ok()) return fail(parsed.error());
  if (!embeddings)
    return fail({400, "invalid_request_error",
                 "this server has no embedding model (start it with --embed-model)", "model",
                 "no_embedding_model"});
  if (parsed->model != embed_model_id) {
    return fail({404, "invalid_request_error",
                 fmt::format("embedding model '{}' does not exist; this server has '{}'",
                             parsed->model, embed_model_id),
                 "model", "model_not_found"});
  }
  if (!gateway->allows(tenant, embed_model_id)) {
    return fail({403, "permission_error",
                 fmt::format("tenant '{}' may not use model '{}'", tenant, embed_model_id), "model",
                 "model_not_allowed"});
  }
  auto request = std::make_shared<EmbeddingRequest>(std::move(*parsed));
  auto job = std::make_shared<EmbeddingJob>();
  job->inputs = std::move(request->inputs);
  // Runs on the embedding worker: the response is built there, then handed to the I/O thread.
  job->on_done = [this, c, request, keep, tenant](EmbeddingJob& j) {
    std::string out;
    int status = 200;
    try {
      if (j.cancelled.load()) {
        status = 499;
      } else if (!j.error.empty()) {
        status = 400;
        out = http_response(
            400, "application/json",
            error_body({400, "invalid_request_error", j.error, "input", "invalid_input"}), {},
            keep);
      } else {
        out = http_response(200, "application/json",
                            embedding_response(*request, embed_model_id, j.vectors, j.tokens), {},
                            keep);
      }
    } catch (const std::exception& e) {
      log_error("serve: building an embedding response failed: {}", e.what());
      status = 500;
      out = http_response(500, "application/json",
                          error_body({500, "server_error", "internal error", "", "internal_error"}),
                          {}, false);
    }
    asio::post(io, [this, c, out = std::move(out), keep, status, tenant]() mutable {
      count(status, tenant);
      if (c->closed() || status == 499) return;
      c->write(std::move(out));
      c->done(keep && status != 500);
    });
  };
  c->set_abort([job] { job->cancelled = true; });
  AdmissionDecision d = embeddings->submit(job, options.admission);
  if (!d.admitted) {
    c->set_abort(nullptr);
    job->on_done = nullptr;
    metrics->rejections.labels({d.reason}).inc();
    return fail({429, "overloaded", d.message, "", d.reason},
                {fmt::format("Retry-After: {}", d.retry_after_s)});
  }
}

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options) {
  std::unique_ptr<Server> s(new Server());
  s->impl_ = std::make_unique<Impl>();
  Impl& i = *s->impl_;
  i.options = options;
  i.model_id = model_name_of(options.model_path, options.model_id);
  i.embed_model_id = options.embed_model_path.empty()
                         ? ""
                         : model_name_of(options.embed_model_path, options.embed_model_id);
  i.created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  i.metrics = std::make_unique<ServeMetrics>(i.registry, options.slo);
  i.connections = std::make_unique<ConnectionTable>(options.connections);
  i.tokenizers = std::make_unique<ThreadPool>(2);
  if (options.api_keys_path.empty()) {
    i.gateway = Gateway::open_access();
  } else {
    KEEL_ASSIGN_OR_RETURN(i.gateway, Gateway::from_key_file(options.api_keys_path));
  }
  for (const auto& [tenant, limits] : options.tenants) i.gateway->set_limits(tenant, limits);
  KEEL_RETURN_IF_ERROR(net::listen_on(i.acceptor, options.host, options.port, 4096));
  raise_fd_limit();
  rlimit rl{};
  const int64_t wanted =
      options.connections.max_connections + options.connections.probe_connections;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      static_cast<int64_t>(rl.rlim_cur) < wanted + 64) {
    log_warn(
        "serve: the file descriptor limit ({}) is below max_connections + probe slots ({}) plus "
        "room for the "
        "model; past it, accept() fails and the server backs off",
        static_cast<int64_t>(rl.rlim_cur), wanted);
  }
  return s;
}

Server::~Server() {
  if (!impl_) return;
  impl_->tokenizers.reset();  // its tasks use the model: finish them first
  if (impl_->loader.joinable()) {
    impl_->abort_loading();
    impl_->loader.join();
  }
  if (impl_->embeddings) impl_->embeddings->stop();
  if (impl_->scheduler) impl_->scheduler->stop(false);
}

uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void Server::shutdown() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_drain(); });
}

Status Server::run() {
  Impl& i = *impl_;
  // Signals first: a SIGTERM sent as soon as the server says it listens must drain it, not
  // kill it.
  if (i.options.handle_signals) {
    i.signals.add(SIGTERM);
    i.signals.add(SIGINT);
    i.signals.async_wait([&i](std::error_code ec, int) {
      if (!ec) i.begin_drain();
    });
  }
  log_info("serve: listening on {}:{} (keel {})", i.options.host, port(), keel_version());
  std::fprintf(stderr, "keel serve: listening on http://%s:%u\n", i.options.host.c_str(), port());
  i.accept();
  i.loader = std::thread([&i] { i.load_models(); });
  // A handler's exception is logged and the loop goes on (the connections' handlers answer
  // their own; this is the last line of defence).
  for (;;) {
    try {
      i.io.run();
      break;
    } catch (const std::exception& e) {
      log_error("serve: unexpected error on the I/O thread: {}", e.what());
    }
  }
  if (i.loader.joinable()) i.loader.join();
  i.tokenizers.reset();  // finishes what is queued (its answers go nowhere now), then joins
  if (i.embeddings) i.embeddings->stop();
  if (i.scheduler) i.scheduler->stop(false);
  if (i.load_failed) return Status::failed_precondition(i.load_error);
  return Status();
}

}  // namespace keel::serve
