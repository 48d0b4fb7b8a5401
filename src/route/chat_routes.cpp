#include "route/chat_routes.h"

#include <fmt/format.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/version.h"
#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "net/http_client.h"

namespace keel::route {
namespace {

double ms_since(int64_t start_ns) { return static_cast<double>(monotonic_now_ns() - start_ns) / 1e6; }

// scheme://host[:port] of a URL.
std::string origin_of(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

std::string trimmed_base(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

// The server's error message, when its body is an OpenAI error.
std::string server_message(const net::HttpClientResponse& r) {
  auto j = parse_json(r.body);
  if (j.ok() && j->is_object() && j->contains("error") && (*j)["error"].is_object() &&
      (*j)["error"].value("message", Json()).is_string())
    return (*j)["error"]["message"].get<std::string>();
  return r.body.substr(0, 200);
}

}  // namespace

LocalChat::~LocalChat() = default;

Result<std::unique_ptr<LocalChat>> LocalChat::open(const std::string& path, int64_t n_ctx, int threads) {
  std::unique_ptr<LocalChat> c(new LocalChat());
  KEEL_ASSIGN_OR_RETURN(Sha256Digest digest, sha256_file(path));
  c->sha256_ = to_hex(digest);
  KEEL_ASSIGN_OR_RETURN(c->model_, engine::Model::load(path));
  engine::ContextOptions options;
  options.n_ctx = n_ctx;
  options.n_threads = threads;
  c->n_ctx_ = n_ctx;
  KEEL_ASSIGN_OR_RETURN(c->context_, engine::Context::create(*c->model_, options));
  return c;
}

Result<RouteAnswer> LocalChat::ask(const std::string& question, int64_t max_tokens) {
  std::lock_guard lock(mutex_);
  const int64_t start = monotonic_now_ns();
  // As serve/server.cpp does for /v1/chat/completions: the model's template, its special
  // tokens parsed, its end-of-turn a stop string.
  auto kind = engine::chat_template_of(model_->file());
  const engine::ChatTemplate t = kind.ok() ? *kind : engine::ChatTemplate::raw;
  const std::string text = engine::format_chat(t, {{"user", question}}, true);
  auto tokens = model_->tokenizer().encode(text, true, t != engine::ChatTemplate::raw);
  if (static_cast<int64_t>(tokens.size()) + max_tokens > n_ctx_)
    return Status::invalid_argument(fmt::format("the question ({} tokens) plus {} to answer exceeds the context of {}",
                                                tokens.size(), max_tokens, n_ctx_));
  engine::GenerateOptions g;
  g.max_tokens = max_tokens;
  g.sampling.temperature = 0;
  if (!engine::end_of_turn(t).empty()) g.stop.push_back(std::string(engine::end_of_turn(t)));
  KEEL_ASSIGN_OR_RETURN(int32_t seq, context_->add_sequence());
  auto result = engine::generate(*context_, seq, tokens, g);
  context_->remove_sequence(seq);
  if (!result.ok()) return result.status();
  RouteAnswer a;
  a.text = result->text;
  a.model_sha256 = sha256_;
  a.keel_version = std::string(keel_version());
  a.prompt_tokens = result->timings.prompt_tokens;
  a.completion_tokens = result->timings.generated_tokens;
  a.ms = ms_since(start);
  return a;
}

LinkState probe(const CloudEndpoint& cloud) {
  LinkState link;
  net::HttpClientRequest req;
  req.url = origin_of(cloud.base_url) + cloud.probe_path;
  req.timeout_ms = std::max<int64_t>(1, static_cast<int64_t>(cloud.probe_deadline_ms));
  req.connect_timeout_ms = req.timeout_ms;
  req.max_response_bytes = 1 << 16;
  const int64_t start = monotonic_now_ns();
  auto r = net::http_fetch(req);
  link.rtt_ms = ms_since(start);
  if (!r.ok()) {
    link.detail = r.status().code() == StatusCode::deadline_exceeded
                      ? fmt::format("no answer within {:.0f} ms", cloud.probe_deadline_ms)
                      : r.status().message();
    return link;
  }
  if (r->status / 100 != 2) {
    link.detail = fmt::format("the probe answered {}", r->status);
    return link;
  }
  link.up = true;
  return link;
}

Result<RouteAnswer> ask_cloud(const CloudEndpoint& cloud, const std::string& question, int64_t max_tokens) {
  const int64_t start = monotonic_now_ns();
  net::HttpClientRequest req;
  req.method = "POST";
  req.url = trimmed_base(cloud.base_url) + "/chat/completions";
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + cloud.key}};
  req.body = dump_json({{"model", cloud.model},
                        {"messages", Json::array({{{"role", "user"}, {"content", question}}})},
                        {"max_tokens", max_tokens},
                        {"temperature", 0}});
  req.timeout_ms = cloud.timeout_ms;
  req.connect_timeout_ms = std::min<int64_t>(cloud.timeout_ms, 5000);
  req.max_response_bytes = 8 << 20;
  KEEL_ASSIGN_OR_RETURN(auto r, net::http_fetch(req));
  if (r.status == 401 || r.status == 403)
    return Status::permission_denied(fmt::format("the cloud refused the device's key ({}): {}", r.status,
                                                 server_message(r)));
  if (r.status == 429 || r.status >= 500)
    return Status::unavailable(fmt::format("the cloud answered {}: {}", r.status, server_message(r)));
  if (r.status != 200)
    return Status::invalid_argument(fmt::format("the cloud answered {}: {}", r.status, server_message(r)));
  KEEL_ASSIGN_OR_RETURN(RouteAnswer a, parse_chat_answer(r.body));
  a.ms = ms_since(start);
  return a;
}

Result<RouteAnswer> parse_chat_answer(std::string_view body_text) {
  auto body = parse_json(body_text);
  if (!body.ok() || !body->is_object() || !body->value("choices", Json()).is_array() || (*body)["choices"].empty())
    return Status::data_loss("the cloud's answer is not a chat completion");
  const Json& choice = (*body)["choices"][0];
  if (!choice.is_object() || !choice.value("message", Json()).is_object() ||
      !choice["message"].value("content", Json()).is_string())
    return Status::data_loss("the cloud's answer has no message content");
  RouteAnswer a;
  a.text = choice["message"]["content"].get<std::string>();
  if (auto fp = body->value("system_fingerprint", Json()); fp.is_string()) {
    if (auto parsed = parse_fingerprint(fp.get<std::string>())) {
      a.model_sha256 = parsed->sha256;
      a.keel_version = parsed->keel_version;
    }
  }
  const Json usage = body->value("usage", Json());
  if (usage.is_object()) {
    if (usage.value("prompt_tokens", Json()).is_number_integer()) a.prompt_tokens = usage["prompt_tokens"].get<int64_t>();
    if (usage.value("completion_tokens", Json()).is_number_integer())
      a.completion_tokens = usage["completion_tokens"].get<int64_t>();
  }
  return a;
}

std::optional<ModelFingerprint> parse_fingerprint(std::string_view text) {
  constexpr std::string_view kPrefix = "keel-", kHash = "+sha256:";
  if (!text.starts_with(kPrefix)) return std::nullopt;
  const size_t plus = text.find(kHash);
  if (plus == std::string_view::npos || plus <= kPrefix.size()) return std::nullopt;
  ModelFingerprint f;
  f.keel_version = std::string(text.substr(kPrefix.size(), plus - kPrefix.size()));
  f.sha256 = std::string(text.substr(plus + kHash.size()));
  if (f.sha256.size() != 64 || f.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  return f;
}

}  // namespace keel::route
