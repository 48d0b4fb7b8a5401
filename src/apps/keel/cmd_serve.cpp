// keel serve --model M [--host 127.0.0.1] [--port 8080] [--max-running N] [--max-waiting N]
//            [--max-queued-tokens N] [--api-keys FILE] [--max-connections N]
//            [--max-connections-per-peer N] [--header-timeout-ms MS] [--spec SPEC] [...]
// The OpenAI-compatible server. With --spec, model, SLOs (for goodput), admission bounds and
// tenants come from the spec; flags given on the command line override it.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/model_record.h"
#include "contract/spec_parser.h"
#include "core/serving_defaults.h"
#include "engine/memory_fit.h"
#include "serve/server.h"

namespace keel::app {

namespace {

struct Options {
  serve::ServerOptions server;
  std::string spec, chat_template;
  int port = static_cast<int>(serving_defaults::kPort);
  int64_t ctx = serving_defaults::kContextTokens, max_running = serving_defaults::kMaxRunning,
          max_waiting = serving_defaults::kMaxWaiting, max_queued_tokens = serving_defaults::kMaxQueuedTokens,
          max_tokens_limit = serving_defaults::kMaxTokensLimit, budget = serving_defaults::kStepTokenBudget;
  double ttft_ms = serving_defaults::kSloTtftMs, tpot_ms = serving_defaults::kSloTpotMs,
         max_queue_wait_ms = serving_defaults::kMaxQueueWaitMs;
  bool no_prefix_cache = false;
  bool deny_egress = false;
};

// The flags given on the command line (they override the spec).
struct Given {
  CLI::Option *model, *host, *port, *running, *waiting, *queue_wait, *queued, *ctx, *limit, *keys, *ttft, *tpot, *grace,
      *max_conn, *per_peer, *header_timeout, *body_timeout, *idle_timeout;
};

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel serve: %s\n", message.c_str());
  return code;
}

// The spec's models, serving section, SLOs, overload policy and tenants, where no flag overrides.
void apply_serving(const contract::Spec& s, Options& o, const Given& g) {
  for (const auto& m : s.deployment.models) {
    if (m.runs != contract::ModelPlacement::local) continue;
    if (m.role == contract::ModelRole::generate && g.model->count() == 0 && o.server.model_path.empty()) {
      o.server.model_path = contract::resolve_spec_path(s, m.path);
      o.server.model_id = m.id;
    }
    if (m.role == contract::ModelRole::embed && o.server.embed_model_path.empty()) {
      o.server.embed_model_path = contract::resolve_spec_path(s, m.path);
      o.server.embed_model_id = m.id;
    }
  }
  if (s.serving.present) {
    const auto& v = s.serving;
    auto& c = o.server.connections;
    if (!g.host->count()) o.server.host = v.host;
    if (!g.port->count()) o.port = static_cast<int>(v.port);
    if (!g.running->count()) o.max_running = v.max_running;
    if (!g.waiting->count()) o.max_waiting = v.max_waiting;
    if (!g.queued->count()) o.max_queued_tokens = v.max_queued_tokens;
    if (!g.ctx->count()) o.ctx = v.context_tokens;
    if (!g.limit->count()) o.max_tokens_limit = v.max_tokens_limit;
    if (!g.grace->count()) o.server.grace_period_s = v.grace_period_s;
    if (!g.queue_wait->count()) o.max_queue_wait_ms = v.max_queue_wait_ms;
    if (!g.max_conn->count()) c.max_connections = v.max_connections;
    if (!g.per_peer->count()) c.max_connections_per_peer = v.max_connections_per_peer;
    if (!g.header_timeout->count()) c.header_timeout_ms = v.header_timeout_ms;
    if (!g.body_timeout->count()) c.body_timeout_ms = v.body_timeout_ms;
    if (!g.idle_timeout->count()) c.idle_timeout_ms = v.idle_timeout_ms;
    o.budget = v.step_token_budget;
    o.no_prefix_cache = o.no_prefix_cache || !v.prefix_caching;
    if (!g.keys->count() && !v.api_keys.empty()) o.server.api_keys_path = contract::resolve_spec_path(s, v.api_keys);
  }
  if (s.slo.ttft_ms && s.slo.ttft_ms->strictest() && !g.ttft->count()) o.ttft_ms = *s.slo.ttft_ms->strictest();
  if (s.slo.tpot_ms && s.slo.tpot_ms->strictest() && !g.tpot->count()) o.tpot_ms = *s.slo.tpot_ms->strictest();
  if (s.failure.on_overload) o.server.admission.min_retry_after_s = s.failure.on_overload->retry_after_s;
  for (const auto& p : s.authority.principals) {
    if (!p.limits) continue;
    serve::TenantLimits l{p.limits->requests_per_minute, p.limits->tokens_per_minute, p.limits->max_concurrent,
                          p.limits->models};
    o.server.tenants.emplace_back(p.id, l);
  }
}

// Loads and checks the spec, binds egress to it, and takes its settings. Exit code, 0 when fine.
int load_spec_settings(Options& o, const Given& g) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  for (const auto& c : contract::run_checks(*spec)) {
    if (c.status == contract::CheckStatus::fail) return fail("the spec is refused: " + c.id + " " + c.message, 2);
  }
  o.deny_egress = spec->deployment.egress.none;
  contract::restrict_egress_to({&*spec});  // an allow-list binds every connection the server opens
  apply_serving(*spec, o, g);
  // K018 for the address actually used (the spec's serving.host, or --host).
  if (auto exposed = contract::check_listener_exposure(*spec, "keel serve", o.server.host)) {
    return fail("the spec is refused: " + exposed->id + " " + exposed->message, 2);
  }
  return 0;
}

// The flags' values into the server's option structs.
void configure_server(Options& o) {
  o.server.port = static_cast<uint16_t>(o.port);
  o.server.scheduler.max_running = o.max_running;
  o.server.scheduler.n_ctx = o.ctx;
  o.server.scheduler.token_budget = o.budget;
  o.server.scheduler.prefix_caching = !o.no_prefix_cache;
  o.server.scheduler.extra_cache_blocks = o.no_prefix_cache ? 0 : o.max_running * ((o.ctx + 15) / 16);
  o.server.admission.max_waiting = o.max_waiting;
  o.server.admission.max_queued_tokens = o.max_queued_tokens;
  o.server.admission.max_queue_wait_s = o.max_queue_wait_ms / 1000.0;
  o.server.request_limits.max_tokens_limit = o.max_tokens_limit;
  o.server.slo = {o.ttft_ms / 1000.0, o.tpot_ms / 1000.0};
}

// The model file's SHA-256 from its compatibility record (keel check-model) when the record is
// current for the file (same size and mtime), so the server need not read the whole file to
// name it in its fingerprint; "" otherwise (the server hashes it while loading).
std::string recorded_sha256(const std::string& model_path) {
  auto record = contract::read_model_record(model_path);
  auto stamp = contract::stat_file(model_path);
  if (record.ok() && stamp.ok() && stamp->size == record->file_size && stamp->mtime_ns == record->file_mtime_ns)
    return record->sha256;
  return "";
}

int serve_main(Options& o, const Given& g) {
  if (!o.spec.empty()) {
    if (int code = load_spec_settings(o, g); code != 0) return code;
  }
  if (o.server.model_path.empty()) return fail("--model (or --spec naming a generate model) is required");
  if (!o.chat_template.empty()) {
    auto t = engine::chat_template_from_name(o.chat_template);
    if (!t.ok()) return fail(t.status().message());
    o.server.chat_template = *t;
  }
  configure_server(o);
  // Refuse before loading when the model cannot be read, or it and its KV cache cannot fit.
  engine::ContextOptions fit;
  fit.n_ctx = o.ctx;
  fit.n_seq_max = 2 * o.max_running;
  auto decision = engine::choose_model({{"model", o.server.model_path, std::nullopt}}, fit);
  if (!decision.ok()) return fail(decision.status().message());
  o.server.model_sha256 = recorded_sha256(o.server.model_path);
  auto server = serve::Server::create(o.server);
  if (!server.ok()) return fail(server.status().to_string());
  if (o.deny_egress) {
    // The listener is bound; accepted connections need no socket() call, so from here on the
    // process can serve but never open a connection of its own (egress: none).
    Status guard = contract::install_egress_guard(contract::EgressGuardProfile::inbound_only);
    if (!guard.ok()) return fail("cannot enforce egress: none: " + guard.to_string());
    std::fprintf(stderr, "keel serve: outbound connections denied (spec egress: none)\n");
  }
  Status s = (*server)->run();
  if (!s.ok()) return fail(s.to_string());
  std::fprintf(stderr, "keel serve: drained and stopped\n");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  auto* model = cmd->add_option("--model,-m", o->server.model_path, "generative GGUF model");
  cmd->add_option("--embed-model", o->server.embed_model_path, "BERT-family GGUF for /v1/embeddings");
  cmd->add_option("--model-id", o->server.model_id, "model name clients use (default: file name)");
  auto* host = cmd->add_option("--host", o->server.host, "address to listen on");
  auto* port = cmd->add_option("--port", o->port, "port (0: any free port)")->check(CLI::Range(0, 65535));
  auto* running = cmd->add_option("--max-running", o->max_running, "requests decoded together")->check(CLI::Range(1, 1024));
  auto* waiting = cmd->add_option("--max-waiting", o->max_waiting, "requests that may wait; more get 429")->check(CLI::Range(0, 1000000));
  auto* queue_wait = cmd->add_option("--max-queue-wait-ms", o->max_queue_wait_ms,
                                    "refuse requests predicted to wait longer for a slot (0: off)");
  auto* queued = cmd->add_option("--max-queued-tokens", o->max_queued_tokens, "tokens (prompt + max_tokens) that may be queued; 0: KV capacity");
  auto* ctx = cmd->add_option("--ctx,-c", o->ctx, "tokens per request (prompt + completion)")->check(CLI::Range(16, 1 << 20));
  auto* limit = cmd->add_option("--max-tokens-limit", o->max_tokens_limit, "largest max_tokens a request may ask");
  cmd->add_option("--step-tokens", o->budget, "tokens per forward step (chunked prefill budget)")->check(CLI::Range(1, 8192));
  auto* keys = cmd->add_option("--api-keys", o->server.api_keys_path, "API key file (tenants, hashed keys, quotas)");
  cmd->add_option("--spec", o->spec, "scenario spec (llm-service) to take settings from");
  cmd->add_option("--threads,-t", o->server.scheduler.threads, "compute threads (0: all cores)");
  cmd->add_option("--chat-template", o->chat_template, "chatml | llama3 | raw (default: from the model)");
  auto* ttft = cmd->add_option("--slo-ttft-ms", o->ttft_ms, "time-to-first-token objective for goodput");
  auto* tpot = cmd->add_option("--slo-tpot-ms", o->tpot_ms, "time-per-output-token objective for goodput");
  auto* grace = cmd->add_option("--grace-s", o->server.grace_period_s, "seconds to finish in-flight work on SIGTERM");
  cmd->add_option("--startup-delay-ms", o->server.startup_delay_ms, "fault injection: delay the model load")
      ->check(CLI::Range(0, 3600000));
  cmd->add_option("--slow-step-ms", o->server.scheduler.step_delay_ms, "fault injection: delay every forward step")
      ->check(CLI::Range(0, 60000));
  cmd->add_option("--kv-blocks", o->server.scheduler.kv_blocks,
                  "fault injection: KV blocks of 16 tokens in the pool (0: max-running full "
                  "contexts plus prefix room); fewer preempts and recomputes the newest request "
                  "when the pool runs out")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_flag("--no-prefix-cache", o->no_prefix_cache, "do not reuse KV blocks of shared prompt prefixes");
  auto& conn = o->server.connections;
  auto* max_conn = cmd->add_option("--max-connections", conn.max_connections,
                                   "open client connections; past it only health probes (a few more), then 503")
                       ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  auto* per_peer = cmd->add_option("--max-connections-per-peer", conn.max_connections_per_peer,
                                   "open connections per client IP address (0: no cap)")
                       ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  auto* header_timeout = cmd->add_option("--header-timeout-ms", conn.header_timeout_ms,
                                         "a request head must arrive within this of its first byte (408)")
                             ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  auto* body_timeout = cmd->add_option("--body-timeout-ms", conn.body_timeout_ms,
                                       "a request body must arrive within this of the end of its head (408)")
                           ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  auto* idle_timeout = cmd->add_option("--idle-timeout-ms", conn.idle_timeout_ms,
                                       "close a keep-alive connection idle this long")
                           ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  Given given{model, host, port, running, waiting, queue_wait, queued, ctx, limit, keys, ttft, tpot, grace,
              max_conn, per_peer, header_timeout, body_timeout, idle_timeout};
  cmd->callback([o, given, &exit_code] { exit_code = serve_main(*o, given); });
}

}  // namespace keel::app
