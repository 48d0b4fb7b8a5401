#include "serve/server.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "core/version.h"
#include "engine/context.h"
#include "engine/model.h"

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
    case engine::FinishReason::end_of_generation: return "stop";
    case engine::FinishReason::length:
    case engine::FinishReason::context_full: return "length";
    case engine::FinishReason::cancelled: return "cancelled";
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

}  // namespace

class Connection;

struct Server::Impl {
  ServerOptions options;
  std::string model_id, embed_model_id;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io};
  asio::steady_timer drain_timer{io};
  MetricsRegistry registry;
  std::unique_ptr<ServeMetrics> metrics;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<engine::Model> model, embed_model;
  std::unique_ptr<engine::Context> embed_context;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<ThreadPool> embed_worker;
  engine::ChatTemplate chat_template = engine::ChatTemplate::raw;
  std::thread loader;
  std::atomic<bool> started{false}, ready{false}, draining{false}, load_failed{false};
  std::string load_error;
  std::atomic<uint64_t> next_id{1};
  std::chrono::steady_clock::time_point drain_deadline;
  int64_t created_unix = 0;

  void accept();
  void load_models();
  void begin_drain();
  void check_drain();
  void handle(const std::shared_ptr<Connection>& c, HttpRequest request);
  void handle_completion(const std::shared_ptr<Connection>& c, const HttpRequest& request, bool chat);
  void handle_embeddings(const std::shared_ptr<Connection>& c, const HttpRequest& request);
  void count(int status, const std::string& tenant) {
    metrics->requests.labels({std::to_string(status), tenant}).inc();
  }
};

// One client connection: reads requests, answers one at a time (HTTP/1.1 without concurrent
// pipelining), and keeps reading while a response streams so a disconnect is noticed at once.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Server::Impl& server)
      : socket_(std::move(socket)), server_(server), parser_(server.options.http) {}

  void start() { read(); }

  void write(std::string data) {
    if (closed_) return;
    out_.push_back(std::move(data));
    if (!writing_) flush();
  }

  //! The current request is answered: close or take the next one.
  void done(bool keep_alive) {
    active_.reset();
    busy_ = false;
    if (!keep_alive) {
      close_after_write_ = true;
      if (!writing_) close();
      return;
    }
    process(parser_.poll());
  }

  void set_active(std::shared_ptr<SchedulerRequest> r) { active_ = std::move(r); }
  bool closed() const { return closed_; }
  Server::Impl& server() { return server_; }

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buffer_), [self](std::error_code ec, size_t n) {
      if (ec) {
        self->on_closed();
        return;
      }
      if (self->busy_) {
        // Bytes of a next request while this one is answered: keep them, within bounds.
        self->pending_ += std::string_view(self->buffer_.data(), n);
        if (self->pending_.size() > self->server_.options.http.max_body_bytes) {
          self->on_closed();
          return;
        }
      } else {
        self->process(self->parser_.feed(std::string_view(self->buffer_.data(), n)));
      }
      self->read();
    });
  }

  void process(RequestParser::State state) {
    if (!pending_.empty() && !busy_) {
      std::string bytes = std::move(pending_);
      pending_.clear();
      state = parser_.feed(bytes);
    }
    if (busy_ || closed_) return;
    if (state == RequestParser::State::error) {
      const HttpError& e = parser_.error();
      ApiError api{e.status, "invalid_request_error", e.message, "", "bad_request"};
      busy_ = true;
      write(http_response(e.status, "application/json", error_body(api), {}, false));
      done(false);
      return;
    }
    if (state != RequestParser::State::request_ready) return;
    busy_ = true;
    server_.handle(shared_from_this(), parser_.take());
  }

  void flush() {
    if (out_.empty() || closed_) return;
    writing_ = true;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_.front()), [self](std::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) {
        self->on_closed();
        return;
      }
      self->out_.pop_front();
      if (!self->out_.empty()) {
        self->flush();
      } else if (self->close_after_write_) {
        self->close();
      }
    });
  }

  void close() {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    closed_ = true;
  }

  void on_closed() {
    if (active_) active_->cancelled = true;  // the engine frees its sequence at the next step
    active_.reset();
    if (!closed_) close();
  }

  tcp::socket socket_;
  Server::Impl& server_;
  RequestParser parser_;
  std::array<char, 16384> buffer_{};
  std::string pending_;
  std::deque<std::string> out_;
  bool writing_ = false, busy_ = false, closed_ = false, close_after_write_ = false;
  std::shared_ptr<SchedulerRequest> active_;
};

namespace {

// Delivers a generation to its connection: each piece is posted to the I/O thread.
class CompletionSink : public RequestSink {
 public:
  CompletionSink(std::shared_ptr<Connection> c, CompletionRequest req, std::string id, std::string model,
                 int64_t created, std::string tenant, int64_t charged_tokens, bool keep_alive)
      : conn_(std::move(c)), req_(std::move(req)), id_(std::move(id)), model_(std::move(model)),
        created_(created), tenant_(std::move(tenant)), charged_(charged_tokens), keep_alive_(keep_alive) {}

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
    std::string chunk = http_chunk(sse_event(completion_chunk(req_, id_, created_, model_, delta, first_, nullptr, lp)));
    first_ = false;
    auto c = conn_;
    asio::post(c->server().io, [c, chunk = std::move(chunk)]() mutable { c->write(std::move(chunk)); });
  }

  void on_finish(const RequestOutcome& o) override {
    auto c = conn_;
    Server::Impl& s = c->server();
    s.gateway->release(tenant_, std::max<int64_t>(0, charged_ - o.prompt_tokens - o.completion_tokens));
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
        out += http_chunk(sse_event(completion_chunk(req_, id_, created_, model_, "", first_, &reason)));
        if (req_.include_usage) out += http_chunk(sse_event(usage_chunk(req_, id_, created_, model_, usage)));
        out += http_chunk(sse_event("[DONE]"));
      }
      out += http_chunk("");
    } else {
      out = http_response(200, "application/json",
                          completion_response(req_, id_, created_, model_, text_, reason, usage, all_logprobs_),
                          {"X-Request-Id: " + id_}, keep_alive_);
    }
    if (o.reason == engine::FinishReason::cancelled && o.error.empty()) status = 499;
    bool keep = keep_alive_;
    std::string tenant = tenant_;
    asio::post(s.io, [c, out = std::move(out), keep, status, tenant]() mutable {
      c->server().count(status, tenant);
      if (c->closed()) return;
      c->write(std::move(out));
      c->done(keep);
    });
  }

 private:
  TokenLogprobJson convert(const std::vector<engine::TokenLogprob>& lp) {
    const auto& tok = conn_->server().model->tokenizer();
    TokenLogprobJson t{tok.token_to_piece(lp[0].token, true), lp[0].logprob, {}};
    for (size_t i = 1; i < lp.size(); ++i) t.top.emplace_back(tok.token_to_piece(lp[i].token, true), lp[i].logprob);
    return t;
  }

  std::shared_ptr<Connection> conn_;
  CompletionRequest req_;
  std::string id_, model_;
  int64_t created_;
  std::string tenant_;
  int64_t charged_;
  bool keep_alive_;
  bool first_ = true;
  std::string text_;
  std::vector<TokenLogprobJson> all_logprobs_;
};

void respond_error(const std::shared_ptr<Connection>& c, const ApiError& e, bool keep_alive,
                   const std::vector<std::string>& headers = {}) {
  c->write(http_response(e.status, "application/json", error_body(e), headers, keep_alive));
  c->done(keep_alive);
}

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
    if (!ec) {
      std::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Connection>(std::move(socket), *this)->start();
    }
    if (acceptor.is_open()) accept();
  });
}

void Server::Impl::load_models() {
  auto fail = [&](const Status& s) {
    load_error = s.to_string();
    load_failed = true;
    log_error("serve: {}", load_error);
  };
  if (options.startup_delay_ms > 0) {
    log_info("serve: delaying the model load by {} ms (--startup-delay-ms)", options.startup_delay_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(options.startup_delay_ms));
  }
  log_info("serve: loading {}", options.model_path);
  auto m = engine::Model::load(options.model_path);
  if (!m.ok()) return fail(m.status());
  model = std::move(*m);
  if (model->config().arch == engine::Architecture::bert) {
    return fail(Status::invalid_argument("--model must be a generative model; pass embedding models with --embed-model"));
  }
  if (options.chat_template) {
    chat_template = *options.chat_template;
  } else {
    auto t = engine::chat_template_of(model->file());
    if (!t.ok()) return fail(t.status());
    chat_template = *t;
  }
  if (!options.embed_model_path.empty()) {
    auto e = engine::Model::load(options.embed_model_path);
    if (!e.ok()) return fail(e.status());
    embed_model = std::move(*e);
    engine::ContextOptions c;
    c.n_threads = options.scheduler.threads;
    c.n_ctx = embed_model->config().n_ctx_train;
    auto ctx = engine::Context::create(*embed_model, c);
    if (!ctx.ok()) return fail(ctx.status());
    embed_context = std::move(*ctx);
    embed_worker = std::make_unique<ThreadPool>(1);
  }
  scheduler = std::make_unique<Scheduler>(*model, options.scheduler, metrics.get());
  if (Status s = scheduler->start(); !s.ok()) return fail(s);
  started = true;
  if (Status s = scheduler->warm_up(); !s.ok()) return fail(s);
  ready = true;
  log_info("serve: ready ({} as '{}', {} running x {} tokens, {} KV blocks)", options.model_path, model_id,
           options.scheduler.max_running, options.scheduler.n_ctx, scheduler->kv_blocks_total());
}

void Server::Impl::begin_drain() {
  if (draining.exchange(true)) return;
  log_info("serve: draining (grace period {} s)", options.grace_period_s);
  drain_deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(options.grace_period_s));
  check_drain();
}

void Server::Impl::check_drain() {
  bool idle = !scheduler || (scheduler->running() == 0 && scheduler->waiting() == 0);
  if (idle || std::chrono::steady_clock::now() >= drain_deadline) {
    if (scheduler) scheduler->stop(/*drain=*/idle);
    std::error_code ignored;
    acceptor.close(ignored);
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

void Server::Impl::handle(const std::shared_ptr<Connection>& c, HttpRequest r) {
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
    return ready ? simple(200, "text/plain", "ready\n") : simple(503, "text/plain", load_failed ? "failed\n" : "loading\n");
  }
  if (r.path == "/metrics") return simple(200, "text/plain; version=0.0.4; charset=utf-8", registry.render());
  if (r.path.rfind("/v1/", 0) != 0) {
    return respond_error(c, {404, "invalid_request_error", "unknown path " + r.path, "", "not_found"}, keep);
  }
  auto tenant = gateway->authenticate(r.header("authorization"));
  if (!tenant.ok()) {
    count(401, "unknown");
    return respond_error(c, {401, "invalid_request_error", tenant.status().message(), "", "invalid_api_key"}, keep,
                         {"WWW-Authenticate: Bearer realm=\"keel\""});
  }
  if (r.path == "/v1/models") {
    if (r.method != "GET") return respond_error(c, {405, "invalid_request_error", "use GET", "", "method_not_allowed"}, keep);
    std::vector<std::string> ids;
    if (gateway->allows(*tenant, model_id)) ids.push_back(model_id);
    if (embed_model && gateway->allows(*tenant, embed_model_id)) ids.push_back(embed_model_id);
    return simple(200, "application/json", models_response(ids, created_unix));
  }
  if (r.method != "POST") return respond_error(c, {405, "invalid_request_error", "use POST", "", "method_not_allowed"}, keep);
  if (r.path == "/v1/chat/completions") return handle_completion(c, r, true);
  if (r.path == "/v1/completions") return handle_completion(c, r, false);
  if (r.path == "/v1/embeddings") return handle_embeddings(c, r);
  respond_error(c, {404, "invalid_request_error", "unknown path " + r.path, "", "not_found"}, keep);
}

void Server::Impl::handle_completion(const std::shared_ptr<Connection>& c, const HttpRequest& r, bool chat) {
  const bool keep = r.keep_alive();
  std::string tenant = *gateway->authenticate(r.header("authorization"));
  auto fail = [&](const ApiError& e, const std::vector<std::string>& headers = {}) {
    count(e.status, tenant);
    respond_error(c, e, keep, headers);
  };
  if (draining) return fail({503, "overloaded", "the server is shutting down; retry on another replica", "", "draining"}, {"Retry-After: 1"});
  if (!ready) return fail({503, "overloaded", load_failed ? "the model failed to load" : "the model is still loading", "", "loading"}, {"Retry-After: 5"});
  auto parsed = parse_completion_request(r.body, chat, options.request_limits);
  if (!parsed.request) return fail(parsed.error);
  CompletionRequest& req = *parsed.request;
  if (req.model != model_id && !(embed_model && req.model == embed_model_id)) {
    return fail({404, "invalid_request_error", fmt::format("model '{}' does not exist; this server has '{}'", req.model, model_id),
                 "model", "model_not_found"});
  }
  if (req.model != model_id) {
    return fail({400, "invalid_request_error", fmt::format("model '{}' is an embedding model", req.model), "model", "wrong_model_kind"});
  }
  if (!gateway->allows(tenant, req.model)) {
    return fail({403, "permission_error", fmt::format("tenant '{}' may not use model '{}'", tenant, req.model), "model", "model_not_allowed"});
  }
  auto queue_state = [&](int64_t max_tokens) {
    return QueueState{scheduler->waiting(), scheduler->running(), options.scheduler.max_running,
                      scheduler->queued_tokens(), scheduler->kv_blocks_total() * options.scheduler.kv_block_size,
                      scheduler->drain_tokens_per_s(), scheduler->slot_release_per_s(), scheduler->slot_free_in_s(),
                      static_cast<double>(max_tokens) * scheduler->step_seconds()};
  };
  auto refuse = [&](const AdmissionDecision& d) {
    metrics->rejections.labels({d.reason}).inc();
    fail({429, "overloaded", d.message, "", d.reason}, {fmt::format("Retry-After: {}", d.retry_after_s)});
  };
  // Under overload most requests are refused, and the I/O thread that refuses them also
  // delivers the admitted ones' tokens: refuse before tokenizing when the prompt cannot change
  // the answer (admission is monotone in the tokens, so a refusal with a zero-token prompt
  // stands for any prompt).
  if (req.max_tokens) {
    AdmissionDecision early = admit(queue_state(*req.max_tokens), options.admission, *req.max_tokens);
    if (!early.admitted) return refuse(early);
  }
  // Prompt tokens.
  std::vector<engine::TokenId> prompt;
  const auto& tokenizer = model->tokenizer();
  if (chat) {
    std::string text = engine::format_chat(chat_template, req.messages, true);
    prompt = tokenizer.encode(text, true, chat_template != engine::ChatTemplate::raw);
    if (!engine::end_of_turn(chat_template).empty()) req.stop.push_back(std::string(engine::end_of_turn(chat_template)));
  } else {
    prompt = tokenizer.encode(req.prompt, true, false);
  }
  const int64_t n_ctx = options.scheduler.n_ctx;
  if (prompt.empty()) return fail({400, "invalid_request_error", "the prompt is empty", chat ? "messages" : "prompt", "empty_prompt"});
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    return fail({400, "invalid_request_error",
                 fmt::format("the prompt has {} tokens; this model's context holds {}", prompt.size(), n_ctx),
                 chat ? "messages" : "prompt", "context_length_exceeded"});
  }
  int64_t max_tokens = req.max_tokens.value_or(std::min<int64_t>(options.request_limits.max_tokens_limit, n_ctx - static_cast<int64_t>(prompt.size())));
  if (static_cast<int64_t>(prompt.size()) + max_tokens > n_ctx) {
    return fail({400, "invalid_request_error",
                  fmt::format("the prompt ({} tokens) plus max_tokens ({}) exceeds the context of {} tokens", prompt.size(),
                              max_tokens, n_ctx),
                  "max_tokens", "context_length_exceeded"});
  }
  const int64_t request_tokens = static_cast<int64_t>(prompt.size()) + max_tokens;
  QuotaDecision quota = gateway->acquire(tenant, request_tokens);
  if (!quota.admitted) {
    metrics->rejections.labels({"tenant_quota"}).inc();
    int retry = std::max(1, static_cast<int>(std::ceil(quota.retry_after_s)));
    return fail({429, "rate_limit_exceeded", quota.message, "", "rate_limit_exceeded"}, {fmt::format("Retry-After: {}", retry)});
  }
  AdmissionDecision admission = admit(queue_state(max_tokens), options.admission, request_tokens);
  if (!admission.admitted) {
    gateway->release(tenant, request_tokens);
    return refuse(admission);
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
                              std::chrono::system_clock::now().time_since_epoch()).count();
  auto sink = std::make_shared<CompletionSink>(c, req, id, model_id, created, tenant, request_tokens, keep);
  if (req.stream) sink->start_stream();
  sr->sink = sink;
  c->set_active(sr);
  scheduler->submit(std::move(sr));
}

void Server::Impl::handle_embeddings(const std::shared_ptr<Connection>& c, const HttpRequest& r) {
  const bool keep = r.keep_alive();
  std::string tenant = *gateway->authenticate(r.header("authorization"));
  auto fail = [&](const ApiError& e) {
    count(e.status, tenant);
    respond_error(c, e, keep);
  };
  if (draining) return fail({503, "overloaded", "the server is shutting down", "", "draining"});
  if (!ready) return fail({503, "overloaded", "the model is still loading", "", "loading"});
  auto parsed = parse_embedding_request(r.body, options.request_limits);
  if (!parsed.request) return fail(parsed.error);
  if (!embed_model) return fail({400, "invalid_request_error", "this server has no embedding model (start it with --embed-model)", "model", "no_embedding_model"});
  if (parsed.request->model != embed_model_id) {
    return fail({404, "invalid_request_error", fmt::format("embedding model '{}' does not exist; this server has '{}'",
                                                           parsed.request->model, embed_model_id), "model", "model_not_found"});
  }
  if (!gateway->allows(tenant, embed_model_id)) {
    return fail({403, "permission_error", fmt::format("tenant '{}' may not use model '{}'", tenant, embed_model_id), "model", "model_not_allowed"});
  }
  auto request = std::make_shared<EmbeddingRequest>(std::move(*parsed.request));
  embed_worker->submit([this, c, request, keep, tenant] {
    const auto& tok = embed_model->tokenizer();
    std::vector<std::vector<engine::TokenId>> tokens;
    int64_t total = 0;
    const int64_t limit = embed_context->options().n_ctx;
    std::string error;
    for (const auto& text : request->inputs) {
      auto ids = tok.encode(text, true, false);
      if (static_cast<int64_t>(ids.size()) > limit) {
        error = fmt::format("an input has {} tokens; the embedding model takes {}", ids.size(), limit);
        break;
      }
      total += static_cast<int64_t>(ids.size());
      tokens.push_back(std::move(ids));
    }
    std::string out;
    int status = 200;
    if (error.empty()) {
      auto vectors = embed_context->embed_batch(tokens);
      if (vectors.ok()) {
        out = http_response(200, "application/json", embedding_response(*request, embed_model_id, *vectors, total), {}, keep);
      } else {
        error = vectors.status().message();
      }
    }
    if (!error.empty()) {
      status = 400;
      out = http_response(400, "application/json", error_body({400, "invalid_request_error", error, "input", "invalid_input"}), {}, keep);
    }
    asio::post(io, [this, c, out = std::move(out), keep, status, tenant]() mutable {
      count(status, tenant);
      if (c->closed()) return;
      c->write(std::move(out));
      c->done(keep);
    });
  });
}

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options) {
  std::unique_ptr<Server> s(new Server());
  s->impl_ = std::make_unique<Impl>();
  Impl& i = *s->impl_;
  i.options = options;
  i.model_id = model_name_of(options.model_path, options.model_id);
  i.embed_model_id = options.embed_model_path.empty() ? "" : model_name_of(options.embed_model_path, options.embed_model_id);
  i.created_unix = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  i.metrics = std::make_unique<ServeMetrics>(i.registry, options.slo);
  if (options.api_keys_path.empty()) {
    i.gateway = Gateway::open_access();
  } else {
    KEEL_ASSIGN_OR_RETURN(i.gateway, Gateway::from_key_file(options.api_keys_path));
  }
  for (const auto& [tenant, limits] : options.tenants) i.gateway->set_limits(tenant, limits);
  std::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return Status::invalid_argument(fmt::format("'{}' is not an IP address", options.host));
  tcp::endpoint endpoint(address, options.port);
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(4096, ec);
  if (ec) return Status::unavailable(fmt::format("cannot listen on {}:{}: {}", options.host, options.port, ec.message()));
  raise_fd_limit();
  return s;
}

Server::~Server() {
  if (impl_ && impl_->loader.joinable()) impl_->loader.join();
  if (impl_ && impl_->scheduler) impl_->scheduler->stop(false);
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::shutdown() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_drain(); });
}

Status Server::run() {
  Impl& i = *impl_;
  log_info("serve: listening on {}:{} (keel {})", i.options.host, port(), keel_version());
  std::fprintf(stderr, "keel serve: listening on http://%s:%u\n", i.options.host.c_str(), port());
  if (i.options.handle_signals) {
    i.signals.add(SIGTERM);
    i.signals.add(SIGINT);
    i.signals.async_wait([&i](std::error_code ec, int) {
      if (!ec) i.begin_drain();
    });
  }
  i.accept();
  i.loader = std::thread([&i] { i.load_models(); });
  i.io.run();
  if (i.loader.joinable()) i.loader.join();
  if (i.scheduler) i.scheduler->stop(false);
  if (i.load_failed) return Status::failed_precondition(i.load_error);
  return Status();
}

}  // namespace keel::serve
