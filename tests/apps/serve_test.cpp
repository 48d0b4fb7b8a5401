// keel serve end to end, with real clients: the official openai npm package, promtool on
// /metrics, plain HTTP for probes, limits, quotas, fairness, cancellation, overload and drain.
// These tests check behaviour, not speed: a test that needs the server in some state (a request
// running, a flood queued) polls /metrics for it, never sleeps a fixed time; latency and memory
// under overload and between tenants are figures of bench/serve_fairness_bench.py.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/hash.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

using testing::BackgroundProcess;

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }
const std::string kChat = "models/keel-tiny-chat.gguf";
const std::string kEmbed = "models/keel-tiny-embed.gguf";

// The value of one series of a Prometheus text (name and labels exactly), -1 when absent.
double metric(const std::string& text, const std::string& line_prefix) {
  size_t at = text.find("\n" + line_prefix + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + line_prefix.size() + 2));
}

struct Server {
  std::unique_ptr<BackgroundProcess> process;
  std::string url;
  explicit Server(std::vector<std::string> args, bool with_model = true) {
    std::vector<std::string> argv = {testing::keel_binary(), "serve", "--port", "0"};
    if (with_model) argv.insert(argv.end(), {"--model", repo(kChat)});
    argv.insert(argv.end(), args.begin(), args.end());
    process = std::make_unique<BackgroundProcess>(argv);
    EXPECT_TRUE(process->wait_for_output("listening on http://")) << process->output();
    url = testing::listening_url(process->output());
  }
  bool wait_ready(int timeout_ms = 30000) {
    return testing::poll_until(
        [&] { return testing::http_request(url, "GET", "/readyz").status == 200; }, timeout_ms);
  }
  std::string metrics() { return testing::http_request(url, "GET", "/metrics").body; }
  testing::HttpResult post(const std::string& path, const Json& body, const std::vector<std::string>& headers = {}) {
    std::vector<std::string> h = headers;
    h.push_back("Content-Type: application/json");
    return testing::http_request(url, "POST", path, dump_json(body), h);
  }
};

Json completion(int max_tokens, bool stream = false) {
  return {{"model", "keel-tiny-chat"}, {"prompt", "The scenario spec names five constraints"},
          {"max_tokens", max_tokens}, {"temperature", 0}, {"stream", stream}};
}

testing::CommandResult node_test(const std::string& file, const std::map<std::string, std::string>& env) {
  return testing::run_command({"node", "--test", repo("tests/peers/" + file)}, "", env, 300);
}

TEST(Serve, OfficialOpenAIClientWorks) {
  ASSERT_TRUE(testing::have_program("node")) << "node is missing: tools/setup.sh installs it";
  ASSERT_TRUE(std::filesystem::exists(repo("tests/peers/node_modules/openai")))
      << "npm packages are missing: tools/setup.sh runs npm ci in tests/peers";
  Server s({"--embed-model", repo(kEmbed)});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  auto r = node_test("openai_client.test.mjs",
                     {{"KEEL_URL", s.url}, {"KEEL_MODEL", "keel-tiny-chat"}, {"KEEL_EMBED_MODEL", "keel-tiny-embed"}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("# fail 0"), std::string::npos) << r.out;
}

TEST(Serve, OpenAIClientHonoursRetryAfterUnderOverload) {
  ASSERT_TRUE(testing::have_program("node"));
  Server s({"--max-running", "1", "--max-waiting", "0", "--slow-step-ms", "250"});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  auto r = node_test("openai_overload.test.mjs", {{"KEEL_URL", s.url}, {"KEEL_MODEL", "keel-tiny-chat"}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(Serve, MetricsPassPromtoolAndCountRequests) {
  Server s({});
  ASSERT_TRUE(s.wait_ready());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.post("/v1/completions", completion(4)).status, 200);
  auto metrics = testing::http_request(s.url, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  auto check = testing::run_command({"promtool", "check", "metrics"}, metrics.body);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << metrics.body;
  for (const char* name : {"keel_time_to_first_token_seconds_bucket", "keel_time_per_output_token_seconds_bucket",
                           "keel_inter_token_latency_seconds_bucket", "keel_request_queue_seconds_bucket",
                           "keel_e2e_request_seconds_bucket", "keel_requests_running", "keel_requests_waiting",
                           "keel_kv_blocks_used_ratio", "keel_goodput_ratio", "keel_prompt_tokens_total",
                           "keel_generation_tokens_total", "keel_prefix_cache_hit_tokens_total",
                           "keel_prefill_tokens_avoided_total", "keel_admission_rejections_total",
                           "keel_requests_total", "keel_goodput_requests_total"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
  EXPECT_NE(metrics.body.find("keel_requests_total{status=\"200\",tenant=\"anonymous\"} 3"), std::string::npos);
}

TEST(Serve, ProbesFollowLoadingReadinessAndDrain) {
  // Slow steps keep the long request below in flight when SIGTERM arrives (30 ms a token).
  Server s({"--startup-delay-ms", "1500", "--grace-s", "20", "--slow-step-ms", "30"});
  EXPECT_EQ(testing::http_request(s.url, "GET", "/livez").status, 200);
  EXPECT_EQ(testing::http_request(s.url, "GET", "/startupz").status, 503);
  EXPECT_EQ(testing::http_request(s.url, "GET", "/readyz").status, 503);
  EXPECT_EQ(s.post("/v1/completions", completion(2)).status, 503);  // still loading
  ASSERT_TRUE(s.wait_ready());
  EXPECT_EQ(testing::http_request(s.url, "GET", "/startupz").status, 200);
  // A long request in flight (the server says it runs), then SIGTERM: readiness drops, the
  // request still finishes, every token of it.
  testing::HttpResult long_result;
  std::atomic<bool> long_done{false};
  std::thread client([&] {
    long_result = s.post("/v1/completions", completion(100));
    long_done = true;
  });
  EXPECT_TRUE(testing::poll_until([&] {
    return metric(s.metrics(), "keel_requests_running") == 1;
  })) << s.metrics();
  EXPECT_FALSE(long_done) << "100 tokens at 30 ms each were still running";
  s.process->signal(SIGTERM);
  EXPECT_TRUE(testing::poll_until(
      [&] { return testing::http_request(s.url, "GET", "/readyz").status == 503; }));
  EXPECT_EQ(s.post("/v1/completions", completion(2)).status, 503);
  client.join();
  EXPECT_EQ(long_result.status, 200);
  auto j = parse_json(long_result.body);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["usage"]["completion_tokens"].get<int>(), 100) << long_result.body;
  EXPECT_EQ(s.process->wait(30000), 0) << s.process->output();
}

TEST(Serve, RequestLimitsAreClear400s) {
  Server s({"--max-tokens-limit", "64", "--ctx", "256"});
  ASSERT_TRUE(s.wait_ready());
  auto bad_json = testing::http_request(s.url, "POST", "/v1/completions", "{not json", {"Content-Type: application/json"});
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_NE(bad_json.body.find("not valid JSON"), std::string::npos);
  auto too_many = s.post("/v1/completions", completion(1000));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_NE(too_many.body.find("at most 64"), std::string::npos);
  std::string long_prompt;
  for (int i = 0; i < 400; ++i) long_prompt += "word ";
  auto too_long = s.post("/v1/completions", {{"model", "keel-tiny-chat"}, {"prompt", long_prompt}, {"max_tokens", 8}});
  EXPECT_EQ(too_long.status, 400);
  EXPECT_NE(too_long.body.find("context_length_exceeded"), std::string::npos);
  auto huge = testing::http_request(s.url, "POST", "/v1/completions", std::string(5 << 20, 'x'), {"Content-Type: application/json"});
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(testing::http_request(s.url, "GET", "/nope").status, 404);
  EXPECT_EQ(testing::http_request(s.url, "GET", "/v1/completions").status, 405);
}

TEST(Serve, GatewayKeysModelsAndQuotas) {
  testing::TempDir dir;
  std::string key_a = "keel-test-key-a", key_b = "keel-test-key-b";
  testing::write_file(dir.file("keys.yaml"),
                      "tenants:\n"
                      "  - id: alpha\n    keys_sha256: [" + sha256_hex(key_a) + "]\n    requests_per_minute: 3\n"
                      "  - id: beta\n    keys_sha256: [" + sha256_hex(key_b) + "]\n    models: [some-other-model]\n");
  Server s({"--api-keys", dir.file("keys.yaml")});
  ASSERT_TRUE(s.wait_ready());
  auto no_key = s.post("/v1/completions", completion(2));
  EXPECT_EQ(no_key.status, 401);
  EXPECT_NE(no_key.headers["www-authenticate"].find("Bearer"), std::string::npos);
  EXPECT_EQ(s.post("/v1/completions", completion(2), {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(s.post("/v1/completions", completion(2), {"Authorization: Bearer " + key_b}).status, 403);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.post("/v1/completions", completion(2), {"Authorization: Bearer " + key_a}).status, 200);
  auto over = s.post("/v1/completions", completion(2), {"Authorization: Bearer " + key_a});
  EXPECT_EQ(over.status, 429);
  EXPECT_GE(std::stoi(over.headers["retry-after"]), 1);
  EXPECT_NE(over.body.find("rate_limit_exceeded"), std::string::npos);
  auto models = testing::http_request(s.url, "GET", "/v1/models", "", {"Authorization: Bearer " + key_b});
  EXPECT_EQ(models.status, 200);
  EXPECT_EQ(models.body.find("keel-tiny-chat"), std::string::npos);  // beta may not use it
}

std::string proc_status_field(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

TEST(Serve, TheSpecSetsModelKeysTenantLimitsAndDeniesEgress) {
  Server s({"--spec", repo("examples/llm-service.yaml")}, false);
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  EXPECT_NE(s.process->output().find("outbound connections denied"), std::string::npos) << s.process->output();
  // The kernel reports the seccomp filter on the running server.
  std::string seccomp = proc_status_field(s.process->pid(), "Seccomp");
  EXPECT_NE(seccomp.find('2'), std::string::npos) << "Seccomp:" << seccomp << " (2 is filter mode)";
  Json body = completion(4);
  body["model"] = "main";  // the model id from the spec
  EXPECT_EQ(s.post("/v1/completions", body).status, 401);
  auto ok = s.post("/v1/completions", body, {"Authorization: Bearer keel-demo-team-search"});
  EXPECT_EQ(ok.status, 200) << ok.body;
  body["max_tokens"] = 600;  // serving.max_tokens_limit is 512
  EXPECT_EQ(s.post("/v1/completions", body, {"Authorization: Bearer keel-demo-team-support"}).status, 400);
  auto metrics = testing::http_request(s.url, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("keel_requests_total{status=\"200\",tenant=\"team-search\"} 1"), std::string::npos) << metrics;
}

TEST(Serve, TheDeploymentSpecIsAccepted) {
  // The spec the Kubernetes manifests ship, with the model path pointed at this checkout.
  std::ifstream in(repo("deploy/kubernetes/configmap.yaml"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t at = text.find("llm-service.yaml: |\n");
  ASSERT_NE(at, std::string::npos);
  std::string spec;
  std::istringstream lines(text.substr(at + 20));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("    ", 0) != 0 && !line.empty()) break;
    spec += (line.size() >= 4 ? line.substr(4) : "") + "\n";
  }
  testing::TempDir dir;
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t p = spec.find(from); p != std::string::npos; p = spec.find(from, p + to.size())) spec.replace(p, from.size(), to);
  };
  replace_all(" /models/", " " + repo("models") + "/");
  replace_all(" /etc/keel-keys/", " " + repo("examples/llm-service") + "/");
  testing::write_file(dir.file("llm-service.yaml"), spec);
  auto r = testing::run_keel({"plan", dir.file("llm-service.yaml")});
  EXPECT_EQ(r.exit_code, 0) << spec << r.out << r.err;
}

// A client that connects, reads the first streamed bytes, then hangs up.
void disconnect_after_first_chunk(const std::string& url, const std::string& body) {
  std::string rest = url.substr(url.find("://") + 3);
  int port = std::stoi(rest.substr(rest.find(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string request = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string got;
  char buffer[4096];
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  while (got.find("data: ") == std::string::npos && got.find("\r\n\r\n{") == std::string::npos) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, n);
  }
  close(fd);
  EXPECT_NE(got.find("data: "), std::string::npos) << got;
}

TEST(Serve, ClientDisconnectCancelsGeneration) {
  Server s({"--slow-step-ms", "20"});  // 1000 tokens would take 20 s
  ASSERT_TRUE(s.wait_ready());
  disconnect_after_first_chunk(s.url, dump_json(completion(1000, true)));
  // Soon the request is gone from the engine and its KV blocks are free.
  double running = -1, cancelled = -1;
  testing::poll_until([&] {
    auto m = s.metrics();
    running = metric(m, "keel_requests_running");
    cancelled = metric(m, "keel_requests_total{status=\"499\",tenant=\"anonymous\"}");
    return running == 0 && cancelled == 1;
  });
  EXPECT_EQ(running, 0);
  EXPECT_EQ(cancelled, 1);
  auto m = testing::http_request(s.url, "GET", "/metrics").body;
  EXPECT_LT(metric(m, "keel_generation_tokens_total"), 200);
}

TEST(Serve, HoldsAThousandOpenStreams) {
  // Every request runs in the same batch, and slow steps (800 ms) keep the first streams open
  // until the last have connected: 1,000 streams are then open at the same time.
  Server s({"--max-running", "1000", "--ctx", "32", "--step-tokens", "8192", "--slow-step-ms", "800",
            "--max-waiting", "2000", "--max-queued-tokens", "1000000"});
  ASSERT_TRUE(s.wait_ready());
  auto r = testing::run_keel({"loadgen", "--url", s.url, "-c", "1000", "-n", "1000", "--prompt-tokens", "6",
                              "--max-tokens", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r.out);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["completed"], 1000) << r.out;
  EXPECT_GE((*j)["max_concurrent_streams"].get<int>(), 1000) << r.out;
}

// Ten times the load the server admits (4 running, 8 waiting, 80 clients): the excess is
// refused at once with 429 and a Retry-After instead of queueing without bound, every admitted
// request completes, the refusals are counted on /metrics, and the server is idle afterwards.
// How quick admitted requests stay and how flat memory stays are speed and memory figures:
// bench/serve_fairness_bench.py prints them as ratios against normal load in one run.
TEST(Serve, OverloadIsRefusedWithRetryAfterAndAdmittedRequestsComplete) {
  Server s({"--max-running", "4", "--max-waiting", "8"});
  ASSERT_TRUE(s.wait_ready());
  auto r = testing::run_keel({"loadgen", "--url", s.url, "-c", "80", "-n", "400", "--prompt-tokens",
                              "32", "--max-tokens", "16", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto overload = parse_json(r.out);
  ASSERT_TRUE(overload.ok()) << r.out;
  const int admitted = (*overload)["statuses"].value("200", 0),
            refused = (*overload)["statuses"].value("429", 0);
  EXPECT_GT(refused, 0) << overload->dump();
  EXPECT_GT(admitted, 0) << overload->dump();
  EXPECT_EQ(admitted + refused, 400)
      << "each request is admitted or refused, none fails: " << overload->dump();
  EXPECT_EQ((*overload)["completed"].get<int>(), admitted);
  auto retry_after = (*overload)["retry_after_s"].get<std::vector<int>>();
  EXPECT_EQ(static_cast<int>(retry_after.size()), refused) << "every 429 carries a Retry-After";
  for (int v : retry_after) EXPECT_GE(v, 1);
  // What the clients saw is what the operator sees, and the queue drains.
  std::string m;
  EXPECT_TRUE(testing::poll_until([&] {
    m = s.metrics();
    return metric(m, "keel_requests_running") == 0 && metric(m, "keel_requests_waiting") == 0;
  })) << m;
  double rejections = 0;
  std::istringstream lines(m);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("keel_admission_rejections_total{", 0) == 0)
      rejections += std::stod(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(rejections, refused) << m;
}

// One tenant floods the server (40 requests at once, 2 slots); another sends 4 requests, one
// after another. Tenants take turns for free slots, so the calm tenant is served between the
// flood's requests and finishes while more flood requests are unfinished than there are slots
// (first come, first served would have run the whole queued flood first). The order is read
// from the server's own counters; how long each tenant waited is a speed figure that
// bench/serve_fairness_bench.py prints as a ratio.
TEST(Serve, OneTenantsFloodDoesNotStarveAnother) {
  testing::TempDir dir;
  testing::write_file(dir.file("keys.yaml"),
                      "tenants:\n  - id: flood\n    keys_sha256: [" + sha256_hex("k-flood") +
                          "]\n  - id: calm\n    keys_sha256: [" + sha256_hex("k-calm") + "]\n");
  Server s({"--api-keys", dir.file("keys.yaml"), "--max-running", "2", "--max-waiting", "500",
            "--max-queued-tokens", "1000000"});
  ASSERT_TRUE(s.wait_ready());
  testing::CommandResult flood;
  std::thread flooder([&] {
    flood = testing::run_keel({"loadgen", "--url", s.url, "--api-key", "k-flood", "-c", "40", "-n",
                               "40", "--prompt-tokens", "16", "--max-tokens", "48", "--json"});
  });
  // The flood is queued: at least half of it waits for a slot.
  const bool queued = testing::poll_until(
      [&] { return metric(s.metrics(), "keel_requests_waiting") >= 20; }, 30000, 2);
  auto calm = testing::run_keel({"loadgen", "--url", s.url, "--api-key", "k-calm", "-c", "1", "-n",
                                 "4", "--prompt-tokens", "16", "--max-tokens", "8", "--json"});
  const std::string at_calm_done = s.metrics();
  flooder.join();
  ASSERT_TRUE(queued) << "the flood never queued 20 requests\n" << flood.out << flood.err;
  auto c = parse_json(calm.out), f = parse_json(flood.out);
  ASSERT_TRUE(c.ok() && f.ok()) << calm.err << flood.err;
  EXPECT_EQ((*c)["completed"], 4);
  EXPECT_EQ((*f)["completed"], 40);
  const double flood_finished =
      std::max(0.0, metric(at_calm_done, "keel_requests_total{status=\"200\",tenant=\"flood\"}"));
  EXPECT_EQ(metric(at_calm_done, "keel_requests_total{status=\"200\",tenant=\"calm\"}"), 4)
      << at_calm_done;
  EXPECT_GT(40 - flood_finished, 2) << "the calm tenant finished after the queued flood: only "
                                    << 40 - flood_finished << " flood requests were left\n"
                                    << at_calm_done;
}

TEST(Serve, SharedPrefixIsReusedFromTheCache) {
  Server s({"--max-running", "4"});
  ASSERT_TRUE(s.wait_ready());
  auto r = testing::run_keel({"loadgen", "--url", s.url, "-c", "1", "-n", "10", "--prompt-tokens", "200",
                              "--shared-prefix", "180", "--max-tokens", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r.out);
  ASSERT_TRUE(j.ok());
  // After the first request, each later one should find (nearly) all the shared prefix cached.
  double cached = (*j)["cached_prompt_tokens"].get<double>();
  double prompt = (*j)["prompt_tokens"].get<double>();
  double shared_after_first = 9.0 * 180.0 * prompt / (10.0 * 200.0);  // shared tokens of requests 2..10
  EXPECT_GE(cached, 0.9 * shared_after_first) << j->dump();
}

}  // namespace
}  // namespace keel
