#include "browser/app_server.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "browser/static_site.h"
#include "core/file_io.h"
#include "core/log.h"
#include "core/metrics.h"
#include "edge/model_manifest.h"
#include "edge/text_classifier.h"
#include "net/form_encoding.h"
#include "net/http_listener.h"
#include "net/http_response.h"

namespace keel::browser {

namespace {

constexpr size_t kMaxMeasurements = 1000;
constexpr size_t kMaxMeasurementBytes = 64 * 1024;
const char* const kFallbackStages[] = {"memory",  "providers", "manifest", "verification",
                                       "download", "runtime",  "session",  "worker", "error"};

// The string at `key` if it is one of `allowed`; "none" when absent, "other" otherwise.
std::string one_of(const Json& j, const char* key, std::initializer_list<const char*> allowed) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "none";
  if (!it->is_string()) return "other";
  for (const char* a : allowed) {
    if (it->get_ref<const std::string&>() == a) return a;
  }
  return "other";
}

std::string stage_of(const std::string& word) {
  for (const char* s : kFallbackStages) {
    if (word == s) return s;
  }
  return "other";
}
constexpr uint64_t kMaxModelBytes = 256ull << 20;
const std::string kImmutable = "Cache-Control: public, max-age=31536000, immutable";
const std::string kNoCache = "Cache-Control: no-cache";
const std::string kNoStore = "Cache-Control: no-store";

std::string error_json(std::string_view code, std::string_view message) {
  return dump_json(Json{{"error", Json{{"code", code}, {"message", message}}}});
}

std::vector<std::string> with_security(std::vector<std::string> extra) {
  std::vector<std::string> h = security_headers();
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

// What kind of thing a path asks for (the request and byte counters' label).
std::string_view kind_of(std::string_view path) {
  if (path == "/" || path == "/index.html" || path == "/results") return "page";
  if (path.starts_with("/assets/")) return "asset";
  if (path == "/models/manifest.json") return "manifest";
  if (path.starts_with("/models/")) return "model";
  if (path.starts_with("/api/")) return "api";
  return "other";
}

}  // namespace

struct WebAppServer::Impl {
  explicit Impl(WebAppOptions o) : options(std::move(o)) {}

  WebAppOptions options;
  std::optional<StaticSite> site;
  std::string manifest_text;  // served as is; the page verifies it
  std::map<std::string, std::string, std::less<>> models;  // request path -> bytes on disk
  std::optional<edge::TextClassifier> classifier;
  std::string model_problem;
  std::unique_ptr<net::HttpListener> listener;

  std::mutex measurements_mutex;
  std::vector<Json> measurements;

  MetricsRegistry registry;
  MetricFamily<Counter>& requests = registry.counter(
      "keel_web_requests_total", "Requests answered, by what they asked for.", {"kind"});
  MetricFamily<Counter>& bytes_sent = registry.counter(
      "keel_web_bytes_sent_total", "Response bytes sent, by what was asked for.", {"kind"});
  MetricFamily<Counter>& remote = registry.counter(
      "keel_web_remote_classifications_total",
      "Server-side classifications (the opt-in remote fallback), by outcome.", {"outcome"});
  Histogram& classify_seconds =
      registry
          .histogram("keel_web_classify_seconds", "Server-side classification time.",
                     {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1})
          .get();
  MetricFamily<Counter>& submissions = registry.counter(
      "keel_web_form_submissions_total",
      "Documents filed through the form, by category and whether it took the suggestion "
      "(yes, no, none: no suggestion was shown).",
      {"category", "took_suggestion"});
  MetricFamily<Counter>& sessions = registry.counter(
      "keel_web_browser_sessions_total",
      "Page measurements received, by the provider that classified and how the model loaded "
      "(cold: downloaded, warm: from Cache Storage, none: no local model).",
      {"provider", "load"});
  MetricFamily<Counter>& fallbacks = registry.counter(
      "keel_web_browser_fallbacks_total",
      "Pages that could not classify locally, by reason.", {"reason"});
  MetricFamily<Histogram>& browser_seconds = registry.histogram(
      "keel_web_browser_classify_seconds",
      "Classification latency the pages measured (featurize + inference), by provider.",
      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5}, {"provider"});
  MetricFamily<Counter>& fetched_bytes = registry.counter(
      "keel_web_browser_bytes_fetched_total",
      "Bytes pages downloaded to start classifying (model and runtime), by how the model loaded.",
      {"load"});
  MetricFamily<Histogram>& init_seconds = registry.histogram(
      "keel_web_browser_init_seconds",
      "Time pages took to create their inference session, by provider.",
      {0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}, {"provider"});
  MetricFamily<Gauge>& heap_bytes = registry.gauge(
      "keel_web_browser_heap_bytes", "The JS heap the latest page report measured, by provider.",
      {"provider"});
  MetricFamily<Counter>& long_tasks = registry.counter(
      "keel_web_browser_long_tasks_total",
      "Main-thread tasks over 50 ms the pages observed while classifying.", {"provider"});

  std::string answer(const net::HttpRequest& req);
  std::string page(std::string_view name, bool keep_alive);
  std::string classify(const net::HttpRequest& req, bool keep_alive);
  std::string submit(const net::HttpRequest& req, bool keep_alive);
  std::string record_measurement(const net::HttpRequest& req, bool keep_alive);
  std::string json_answer(int status, const std::string& body, bool keep_alive,
                          std::vector<std::string> extra = {}) {
    extra.push_back(kNoStore);
    return net::http_response(status, "application/json", body, with_security(extra),
                              keep_alive);
  }
  Json page_config() const;
};

Json WebAppServer::Impl::page_config() const {
  Json config = options.page_config;
  config["scenario"] = "browser-classifier";
  config["signer"] = format_ed25519_public_key(options.signer);
  auto manifest = parse_json(manifest_text);
  config["manifest"] = manifest.ok() ? *manifest : Json();
  config["model_base"] = "/models/";
  config["categories"] = options.categories;
  config["assets"] = site->urls();
  if (const StaticAsset* w = site->named("worker.js")) config["worker"] = w->url;
  return config;
}

std::string WebAppServer::Impl::page(std::string_view name, bool keep_alive) {
  auto html = site->render(name, page_config());
  if (!html.ok()) {
    return net::http_response(500, "text/plain; charset=utf-8", html.status().message(),
                              with_security({kNoStore}), keep_alive);
  }
  return net::http_response(200, "text/html; charset=utf-8", *html, with_security({kNoCache}),
                            keep_alive);
}

std::string WebAppServer::Impl::classify(const net::HttpRequest& req, bool keep_alive) {
  if (!options.remote_enabled) {
    remote.labels({"refused"}).inc();
    return json_answer(403, error_json("remote_disabled",
                                       "this deployment has no remote classification "
                                       "(deployment.remote_fallback is disabled)"),
                       keep_alive);
  }
  auto consent = req.header("x-keel-consent");
  if (!consent || *consent != "granted") {
    remote.labels({"refused"}).inc();
    return json_answer(428, error_json("consent_required",
                                       "remote classification needs the user's consent "
                                       "(X-Keel-Consent: granted)"),
                       keep_alive);
  }
  if (!classifier) {
    remote.labels({"unavailable"}).inc();
    return json_answer(503, error_json("model_unavailable", model_problem), keep_alive);
  }
  auto body = parse_json(req.body);
  if (!body.ok() || !body->is_object() || !body->contains("text") || !(*body)["text"].is_string()) {
    remote.labels({"invalid"}).inc();
    return json_answer(400, error_json("invalid_request", "expected JSON {\"text\": \"...\"}"),
                       keep_alive);
  }
  const auto start = std::chrono::steady_clock::now();
  auto result = classifier->classify((*body)["text"].get_ref<const std::string&>());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    remote.labels({"invalid"}).inc();
    return json_answer(400, error_json("invalid_request", result.status().message()), keep_alive);
  }
  classify_seconds.observe(seconds);
  remote.labels({"classified"}).inc();
  return json_answer(200,
                     dump_json(Json{{"label", result->label},
                                    {"confidence", result->confidence},
                                    {"labels", classifier->manifest().labels},
                                    {"probabilities", result->probabilities},
                                    {"provider", "server"},
                                    {"model_sha256", classifier->model_sha256()},
                                    {"latency_ms", seconds * 1000.0}}),
                     keep_alive);
}

std::string WebAppServer::Impl::submit(const net::HttpRequest& req, bool keep_alive) {
  auto html_answer = [&](int status, const std::string& title, const std::string& text) {
    std::string body = fmt::format(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>"
        "</head><body><main><h1>{0}</h1><p>{1}</p><p><a href=\"/\">File another document</a>"
        "</p></main></body></html>\n",
        html_escape(title), html_escape(text));
    return net::http_response(status, "text/html; charset=utf-8", body,
                              with_security({kNoStore}), keep_alive);
  };
  auto fields = net::parse_form(req.body);
  if (!fields.ok()) return html_answer(400, "Not filed", fields.status().message());
  auto category = net::form_value(*fields, "category");
  const std::vector<std::string>& labels = options.categories;
  if (!category || std::find(labels.begin(), labels.end(), *category) == labels.end())
    return html_answer(400, "Not filed", "choose one of the categories");
  auto document = net::form_value(*fields, "document");
  if (!document || document->empty())
    return html_answer(400, "Not filed", "paste the document's text first");
  auto suggested = net::form_value(*fields, "suggested").value_or("");
  const std::string took = suggested.empty() ? "none" : (suggested == *category ? "yes" : "no");
  submissions.labels({*category, took}).inc();
  return html_answer(200, "Filed as " + *category,
                     fmt::format("{} bytes filed as {}. The text itself was not kept.",
                                 document->size(), *category));
}

std::string WebAppServer::Impl::record_measurement(const net::HttpRequest& req, bool keep_alive) {
  auto m = parse_json(req.body);
  if (!m.ok() || !m->is_object())
    return json_answer(400, error_json("invalid_request", "expected a JSON object"), keep_alive);
  if (req.body.size() > kMaxMeasurementBytes)
    return json_answer(413, error_json("invalid_request", "a measurement report is at most 64 KiB"),
                       keep_alive);
  // Anyone can post a report: labels come from fixed sets, so no report grows /metrics.
  const std::string provider = one_of(*m, "provider", {"webnn", "webgpu", "wasm", "server", "none"});
  const std::string load = one_of(*m, "load", {"cold", "warm", "none"});
  auto number = [&](const char* key) -> std::optional<double> {
    auto it = m->find(key);
    if (it == m->end() || !it->is_number() || it->get<double>() < 0) return std::nullopt;
    return it->get<double>();
  };
  // A page visit posts numbered reports: the first says how it loaded and what it runs on;
  // every report carries only the observations made since the one before.
  const bool first_report = number("report").value_or(1) == 1;
  if (first_report) {
    sessions.labels({provider, load}).inc();
    if (auto reason = m->find("fallback_reason"); reason != m->end() && reason->is_string() &&
                                                  !reason->get_ref<const std::string&>().empty()) {
      // The reason's stage ("memory: ...", "verification: ...") is the label.
      const std::string& r = reason->get_ref<const std::string&>();
      fallbacks.labels({stage_of(r.substr(0, r.find_first_of(" :")))}).inc();
    }
    if (auto bytes = number("bytes_fetched")) fetched_bytes.labels({load}).inc(*bytes);
    if (auto init = number("init_ms")) init_seconds.labels({provider}).observe(*init / 1000.0);
  }
  if (auto lat = m->find("latencies_ms"); lat != m->end() && lat->is_array()) {
    for (const auto& v : *lat) {
      if (v.is_number() && v.get<double>() >= 0) browser_seconds.labels({provider}).observe(v.get<double>() / 1000.0);
    }
  }
  if (auto lt = number("long_tasks")) long_tasks.labels({provider}).inc(*lt);
  if (auto heap = number("js_heap_bytes")) heap_bytes.labels({provider}).set(*heap);
  (*m)["received_unix_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  {
    std::lock_guard lock(measurements_mutex);
    if (measurements.size() >= kMaxMeasurements) measurements.erase(measurements.begin());
    measurements.push_back(*m);
  }
  if (!options.measurements_file.empty()) {
    std::ofstream out(options.measurements_file, std::ios::app);
    out << dump_json(*m) << "\n";
    if (!out) log_warn("web serve: cannot append to {}", options.measurements_file);
  }
  return json_answer(202, R"({"recorded":true})", keep_alive);
}

std::string WebAppServer::Impl::answer(const net::HttpRequest& req) {
  const bool keep_alive = req.keep_alive();
  const std::string& path = req.path;
  const bool get = req.method == "GET";
  auto not_allowed = [&](const char* allow) {
    return json_answer(405, error_json("method_not_allowed", fmt::format("use {}", allow)),
                       keep_alive, {fmt::format("Allow: {}", allow)});
  };
  if (path == "/" || path == "/index.html") return get ? page("index.html", keep_alive) : not_allowed("GET");
  if (path == "/results") return get ? page("results.html", keep_alive) : not_allowed("GET");
  if (path == "/healthz") return json_answer(200, R"({"status":"ok"})", keep_alive);
  if (path == "/metrics") {
    if (!get) return not_allowed("GET");
    return net::http_response(200, "text/plain; version=0.0.4", registry.render(),
                              with_security({kNoStore}), keep_alive);
  }
  if (path.starts_with("/assets/")) {
    if (!get) return not_allowed("GET");
    const StaticAsset* a = site->find(path);
    if (!a) return json_answer(404, error_json("not_found", "no such asset (a stale hash?)"), keep_alive);
    const std::string etag = fmt::format("\"{}\"", a->sha256);
    if (auto inm = req.header("if-none-match"); inm && *inm == etag)
      return net::http_response(304, a->content_type, "",
                                with_security({kImmutable, "ETag: " + etag}), keep_alive);
    return net::http_response(200, a->content_type, a->bytes,
                              with_security({kImmutable, "ETag: " + etag}), keep_alive);
  }
  if (path == "/models/manifest.json") {
    if (!get) return not_allowed("GET");
    return net::http_response(200, "application/json", manifest_text, with_security({kNoCache}),
                              keep_alive);
  }
  if (path.starts_with("/models/")) {
    if (!get) return not_allowed("GET");
    auto it = models.find(path);
    if (it == models.end()) return json_answer(404, error_json("not_found", "no such model"), keep_alive);
    return net::http_response(200, "application/octet-stream", it->second,
                              with_security({kImmutable}), keep_alive);
  }
  if (path == "/api/classify") return req.method == "POST" ? classify(req, keep_alive) : not_allowed("POST");
  if (path == "/api/submit") return req.method == "POST" ? submit(req, keep_alive) : not_allowed("POST");
  if (path == "/api/measurements") {
    if (req.method == "POST") return record_measurement(req, keep_alive);
    if (!get) return not_allowed("GET, POST");
    std::lock_guard lock(measurements_mutex);
    return json_answer(200, dump_json(Json(measurements)), keep_alive);
  }
  return json_answer(404, error_json("not_found", "no such path: " + path), keep_alive);
}

WebAppServer::WebAppServer() = default;
WebAppServer::~WebAppServer() = default;

Result<std::unique_ptr<WebAppServer>> WebAppServer::create(WebAppOptions options) {
  std::unique_ptr<WebAppServer> server(new WebAppServer());
  server->impl_ = std::make_unique<Impl>(std::move(options));
  Impl& i = *server->impl_;
  KEEL_ASSIGN_OR_RETURN(StaticSite site, StaticSite::load(i.options.app_folders));
  i.site = std::move(site);
  for (const char* page : {"index.html", "results.html"}) {
    if (!i.site->named(page))
      return Status::not_found(fmt::format("the app has no {} (looked in: {})", page,
                                           fmt::join(i.options.app_folders, ", ")));
  }
  const std::string manifest_path =
      (std::filesystem::path(i.options.models_folder) / "manifest.json").string();
  KEEL_ASSIGN_OR_RETURN(i.manifest_text, read_file(manifest_path, 1 << 20));
  std::error_code ec;
  for (std::filesystem::directory_iterator it(i.options.models_folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file() || !name.starts_with("sha256-")) continue;
    KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(it->path().string(), kMaxModelBytes));
    i.models["/models/" + name] = std::move(bytes);
  }
  auto classifier = edge::TextClassifier::load(manifest_path, i.options.signer);
  if (classifier.ok()) {
    i.classifier.emplace(std::move(*classifier));
  } else {
    i.model_problem = classifier.status().message();
    log_warn("web serve: the model does not verify, so pages will refuse it and offer the form: {}",
             i.model_problem);
  }
  net::HttpConnectionOptions o = net::connection_options(
      i.options.max_body_bytes, i.options.header_timeout_ms, i.options.body_timeout_ms,
      i.options.idle_timeout_ms);
  net::HttpConnectionHooks hooks;
  hooks.handle = [&i](const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req) {
    std::string response = i.answer(req);
    const std::string kind(kind_of(req.path));
    i.requests.labels({kind}).inc();
    i.bytes_sent.labels({kind}).inc(static_cast<double>(response.size()));
    c->write(std::move(response));
    c->done(req.keep_alive());
  };
  hooks.error_body = [](const net::HttpError& e) {
    return error_json(e.code.empty() ? "invalid_request" : e.code, e.message);
  };
  hooks.on_handler_failure = [](const char* what) {
    log_error("web serve: a request failed: {}", what);
  };
  KEEL_ASSIGN_OR_RETURN(i.listener, net::HttpListener::create(i.options.host, i.options.port,
                                                              std::move(o), std::move(hooks)));
  return server;
}

uint16_t WebAppServer::port() const { return impl_->listener->port(); }
const std::string& WebAppServer::model_problem() const { return impl_->model_problem; }
void WebAppServer::run() { impl_->listener->run(); }
void WebAppServer::stop() { impl_->listener->stop(); }

}  // namespace keel::browser
