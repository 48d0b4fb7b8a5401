// The browser classifier's origin server on loopback, over real HTTP: hashed assets and their
// caching, the security headers on every answer, the consent and remote gates of the
// server-side classifier, the plain form, the measurements, and a tampered model that the
// server keeps serving (the page refuses it) while its own classifier stays off.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "browser/app_server.h"
#include "core/json.h"
#include "core/key_file.h"
#include "edge/model_manifest.h"
#include "support/test_support.h"

namespace keel::browser {
namespace {

class WebApp : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = tmp_.file("app");
    std::filesystem::create_directories(app_);
    testing::write_file(app_ + "/index.html",
                        "<html><script type=\"application/json\" id=\"keel-config\">{{config}}"
                        "</script><script type=\"module\" src=\"{{asset:app.js}}\"></script></html>");
    testing::write_file(app_ + "/results.html", "<html>{{asset:app.js}}</html>");
    testing::write_file(app_ + "/app.js", "console.log('app </script>');\n");
    testing::write_file(app_ + "/worker.js", "self.onmessage = () => {};\n");
    testing::write_file(app_ + "/package.json", "{}");  // not a web type: never served
    key_ = ed25519_generate();
    std::string model;
    for (const auto& e :
         std::filesystem::directory_iterator(testing::source_dir() + "/models/doc-classifier")) {
      if (e.path().filename().string().starts_with("sha256-")) model = e.path().string();
    }
    auto published = edge::publish_model(model, Ed25519KeyFile{"t", key_, false}, tmp_.file("models"));
    ASSERT_TRUE(published.ok()) << published.status().message();
    published_ = *published;
  }
  void TearDown() override { stop(); }

  void start(bool remote_enabled = true) {
    WebAppOptions o;
    o.port = 0;
    o.app_folders = {app_};
    o.models_folder = tmp_.file("models");
    o.signer = key_.public_key;
    o.categories = {"invoice", "contract", "cv", "report", "letter", "other"};
    o.remote_enabled = remote_enabled;
    o.max_body_bytes = 64 * 1024;
    o.page_config = Json{{"providers", {"webgpu", "wasm"}}};
    auto server = WebAppServer::create(std::move(o));
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = std::thread([this] { server_->run(); });
  }
  void stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  testing::HttpResult get(const std::string& path, const std::vector<std::string>& h = {}) {
    return testing::http_request(url_, "GET", path, "", h);
  }
  testing::HttpResult post(const std::string& path, const std::string& body,
                           const std::vector<std::string>& h = {}) {
    return testing::http_request(url_, "POST", path, body, h);
  }
  double metric(const std::string& line_prefix) {
    std::string text = get("/metrics").body;
    auto at = text.find("\n" + line_prefix + " ");
    return at == std::string::npos ? 0 : std::stod(text.substr(at + line_prefix.size() + 2));
  }
  static void expect_security_headers(const testing::HttpResult& r) {
    EXPECT_EQ(r.headers.at("cross-origin-opener-policy"), "same-origin");
    EXPECT_EQ(r.headers.at("cross-origin-embedder-policy"), "require-corp");
    EXPECT_NE(r.headers.at("content-security-policy").find("connect-src 'self'"), std::string::npos);
    EXPECT_EQ(r.headers.at("content-security-policy").find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(r.headers.at("x-content-type-options"), "nosniff");
  }

  testing::TempDir tmp_;
  std::string app_, url_;
  Ed25519KeyPair key_;
  edge::PublishedModel published_;
  std::unique_ptr<WebAppServer> server_;
  std::thread thread_;
};

TEST_F(WebApp, ThePageCarriesItsConfigAndHashedAssetUrls) {
  start();
  auto page = get("/");
  ASSERT_EQ(page.status, 200);
  expect_security_headers(page);
  EXPECT_EQ(page.headers.at("cache-control"), "no-cache");
  const auto begin = page.body.find("keel-config\">") + 13;
  const auto end = page.body.find("</script>", begin);
  auto config = parse_json(page.body.substr(begin, end - begin));
  ASSERT_TRUE(config.ok()) << page.body;
  EXPECT_EQ((*config)["signer"], format_ed25519_public_key(key_.public_key));
  EXPECT_EQ((*config)["manifest"]["payload"], published_.signed_manifest.payload);
  EXPECT_EQ((*config)["providers"], Json::parse(R"(["webgpu","wasm"])"));
  const std::string app_url = (*config)["assets"]["app.js"].get<std::string>();
  EXPECT_TRUE(app_url.starts_with("/assets/")) << app_url;
  EXPECT_NE(page.body.find("src=\"" + app_url + "\""), std::string::npos);
  EXPECT_FALSE((*config)["assets"].contains("package.json"));

  auto asset = get(app_url);
  ASSERT_EQ(asset.status, 200);
  expect_security_headers(asset);
  EXPECT_EQ(asset.headers.at("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(asset.headers.at("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(get(app_url, {"If-None-Match: " + asset.headers.at("etag")}).status, 304);
  // A changed file is a new URL; the old one is gone rather than stale.
  std::string stale = app_url;
  stale[8] = stale[8] == '0' ? '1' : '0';
  EXPECT_EQ(get(stale).status, 404);
}

TEST_F(WebApp, TheModelIsImmutableUnderItsHashAndTheManifestIsRevalidated) {
  start();
  const std::string model_url = "/models/" + published_.manifest.model_asset()->path;
  auto model = get(model_url);
  ASSERT_EQ(model.status, 200);
  EXPECT_EQ(model.body, testing::read_file(published_.model_path));
  EXPECT_EQ(model.headers.at("cache-control"), "public, max-age=31536000, immutable");
  auto manifest = get("/models/manifest.json");
  ASSERT_EQ(manifest.status, 200);
  EXPECT_EQ(manifest.headers.at("cache-control"), "no-cache");
  EXPECT_EQ(get("/models/sha256-0000.onnx").status, 404);
}

TEST_F(WebApp, RemoteClassificationNeedsConsentAndAnswersWithTheSameModel) {
  start();
  const std::string text = R"({"text": "INVOICE 2231. Amount due 450.00 EUR within 30 days. VAT."})";
  auto refused = post("/api/classify", text);
  EXPECT_EQ(refused.status, 428);
  expect_security_headers(refused);
  auto r = post("/api/classify", text, {"X-Keel-Consent: granted"});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = *parse_json(r.body);
  EXPECT_EQ(j["label"], "invoice");
  EXPECT_EQ(j["provider"], "server");
  EXPECT_EQ(j["model_sha256"], published_.manifest.model_asset()->sha256);
  EXPECT_EQ(j["probabilities"].size(), 6u);
  EXPECT_EQ(metric("keel_web_remote_classifications_total{outcome=\"classified\"}"), 1);
  EXPECT_EQ(metric("keel_web_remote_classifications_total{outcome=\"refused\"}"), 1);
  EXPECT_EQ(post("/api/classify", "{\"text\": 5}", {"X-Keel-Consent: granted"}).status, 400);
  EXPECT_EQ(post("/api/classify", "{\"text\": \"caf\xc3\"}", {"X-Keel-Consent: granted"}).status, 400);
  EXPECT_EQ(post("/api/classify", std::string(100 * 1024, 'a'), {"X-Keel-Consent: granted"}).status,
            413);
  EXPECT_EQ(get("/api/classify").status, 405);
}

TEST_F(WebApp, WithRemoteFallbackDisabledTheServerNeverClassifies) {
  start(/*remote_enabled=*/false);
  auto r = post("/api/classify", R"({"text": "an invoice"})", {"X-Keel-Consent: granted"});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("remote_disabled"), std::string::npos);
}

TEST_F(WebApp, TheFormFilesWithoutKeepingTheText) {
  start();
  auto filed = post("/api/submit",
                    "document=Dear+Ms+Novak%2C%0Athank+you+SECRET-TEXT&category=letter&suggested=letter",
                    {"Content-Type: application/x-www-form-urlencoded"});
  ASSERT_EQ(filed.status, 200);
  expect_security_headers(filed);
  EXPECT_NE(filed.body.find("Filed as letter"), std::string::npos);
  EXPECT_EQ(filed.body.find("SECRET-TEXT"), std::string::npos);
  EXPECT_EQ(post("/api/submit", "document=x&category=poem").status, 400);
  EXPECT_EQ(post("/api/submit", "document=&category=cv").status, 400);
  EXPECT_EQ(post("/api/submit", "document=%G1&category=cv").status, 400);
  EXPECT_EQ(metric("keel_web_form_submissions_total{category=\"letter\",took_suggestion=\"yes\"}"), 1);
  EXPECT_EQ(get("/metrics").body.find("SECRET-TEXT"), std::string::npos);
}

TEST_F(WebApp, MeasurementsArrivedAreListedAndCounted) {
  start();
  Json m = {{"provider", "wasm"}, {"load", "cold"}, {"latencies_ms", {1.5, 2.5, 40}},
            {"long_tasks", 0}, {"bytes_fetched", 1051048}};
  ASSERT_EQ(post("/api/measurements", dump_json(m)).status, 202);
  Json fallback = {{"provider", "none"}, {"load", "none"},
                   {"fallback_reason", "memory: 256 MB is below 1024 MB"}};
  ASSERT_EQ(post("/api/measurements", dump_json(fallback)).status, 202);
  EXPECT_EQ(post("/api/measurements", "[1,2]").status, 400);
  auto listed = parse_json(get("/api/measurements").body);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0]["bytes_fetched"], 1051048);
  EXPECT_EQ(metric("keel_web_browser_sessions_total{provider=\"wasm\",load=\"cold\"}"), 1);
  EXPECT_EQ(metric("keel_web_browser_fallbacks_total{reason=\"memory\"}"), 1);
  EXPECT_EQ(metric("keel_web_browser_classify_seconds_count{provider=\"wasm\"}"), 3);
}

TEST_F(WebApp, AHostileReportCannotGrowTheMetricsOrBreakTheServer) {
  start();
  // Made-up providers, stages and loads land in "other"; wrong types do not throw.
  for (int i = 0; i < 20; ++i) {
    Json m = {{"provider", "gpu-" + std::to_string(i)}, {"load", i},
              {"fallback_reason", "stage" + std::to_string(i) + ": x"}, {"report", "first"}};
    ASSERT_EQ(post("/api/measurements", dump_json(m)).status, 202);
  }
  ASSERT_EQ(post("/api/measurements", R"({"provider": ["wasm"], "latencies_ms": "fast"})").status, 202);
  EXPECT_EQ(post("/api/measurements", "{\"pad\": \"" + std::string(70 * 1024, 'x') + "\"}").status, 413);
  const std::string text = get("/metrics").body;
  EXPECT_EQ(metric("keel_web_browser_sessions_total{provider=\"other\",load=\"other\"}"), 20);
  EXPECT_EQ(metric("keel_web_browser_fallbacks_total{reason=\"other\"}"), 20);
  EXPECT_EQ(text.find("gpu-"), std::string::npos);
  EXPECT_EQ(text.find("stage1"), std::string::npos);
}

TEST_F(WebApp, ATamperedModelIsStillServedButNeverUsedByTheServer) {
  std::string bytes = testing::read_file(published_.model_path);
  bytes[100] ^= 0x01;
  testing::write_file(published_.model_path, bytes);
  start();
  EXPECT_NE(server_->model_problem().find("does not hash"), std::string::npos);
  EXPECT_EQ(get("/").status, 200);
  auto r = post("/api/classify", R"({"text": "an invoice"})", {"X-Keel-Consent: granted"});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(get("/models/" + published_.manifest.model_asset()->path).body, bytes);
}

}  // namespace
}  // namespace keel::browser
