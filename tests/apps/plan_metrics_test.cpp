// What a plan promises to measure, against what the runtime it describes exports: for each
// runnable scenario, `keel plan --json` names the metrics, the real runtime runs a little work,
// and every named metric must be in its Prometheus text with samples (histograms with
// _bucket, _sum and _count). Then the server's gauges: they move under load and return to their
// idle values once it is over, and a KV pool too small for the load preempts and recomputes
// without changing any answer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

using testing::BackgroundProcess;

std::string repo(const std::string& rel) {
  return testing::source_dir() + "/" + rel;
}
const std::string kChat = "models/keel-tiny-chat.gguf";

struct NamedMetric {
  std::string name, kind;
};

std::vector<NamedMetric> plan_metrics(const std::string& spec) {
  auto r = testing::run_keel({"plan", "--json", spec});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto plan = parse_json(r.out);
  EXPECT_TRUE(plan.ok()) << r.out;
  std::vector<NamedMetric> out;
  if (!plan.ok()) return out;
  for (const auto& m : (*plan)["metrics"])
    out.push_back({m["name"].get<std::string>(), m["kind"].get<std::string>()});
  return out;
}

// The value of one series exactly as rendered (name and labels), or nullopt when absent.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// Whether the text holds a sample (not only # HELP / # TYPE) of this exact metric name.
bool has_samples(const std::string& text, const std::string& name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        (line[name.size()] == ' ' || line[name.size()] == '{')) {
      return true;
    }
  }
  return false;
}

// Plan metrics without samples in the exported text.
std::vector<std::string> missing_from(const std::string& text,
                                      const std::vector<NamedMetric>& metrics) {
  std::vector<std::string> missing;
  for (const auto& m : metrics) {
    std::vector<std::string> series = {m.name};
    if (m.kind == "histogram") series = {m.name + "_bucket", m.name + "_sum", m.name + "_count"};
    for (const auto& s : series) {
      if (!has_samples(text, s)) missing.push_back(s);
    }
  }
  return missing;
}

void expect_promtool_accepts(const std::string& text) {
  auto check = testing::run_command({"promtool", "check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << text;
}

struct Serve {
  std::unique_ptr<BackgroundProcess> process;
  std::string url;
  explicit Serve(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {testing::keel_binary(), "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    process = std::make_unique<BackgroundProcess>(argv);
    EXPECT_TRUE(process->wait_for_output("listening on http://")) << process->output();
    url = testing::listening_url(process->output());
  }
  bool wait_ready() {
    return testing::poll_until(
        [&] { return testing::http_request(url, "GET", "/readyz").status == 200; }, 60000);
  }
  testing::HttpResult post(const Json& body, const std::vector<std::string>& headers = {}) {
    std::vector<std::string> h = headers;
    h.push_back("Content-Type: application/json");
    return testing::http_request(url, "POST", "/v1/completions", dump_json(body), h, 120000);
  }
  std::string metrics() { return testing::http_request(url, "GET", "/metrics").body; }
  double gauge(const std::string& text, const std::string& name) {
    auto v = sample(text, name);
    EXPECT_TRUE(v) << name << " is not exported\n" << text;
    return v.value_or(-1);
  }
  // The metrics once nothing runs or waits: a client that hangs up is noticed by the server,
  // and its request cancelled, some time after it left, so this polls (bounded) for that.
  std::string metrics_when_idle() {
    std::string text;
    testing::poll_until(
        [&] {
          text = metrics();
          return sample(text, "keel_requests_running") == 0.0 &&
                 sample(text, "keel_requests_waiting") == 0.0;
        },
        10000, 20);
    return text;
  }
};

Json completion(const std::string& model, const std::string& prompt, int max_tokens,
                bool stream = false) {
  return {{"model", model},
          {"prompt", prompt},
          {"max_tokens", max_tokens},
          {"temperature", 0},
          {"stream", stream}};
}

TEST(PlanMetrics, TheLlmServiceExportsEveryMetricItsPlanNames) {
  const std::string spec = repo("examples/llm-service.yaml");
  auto metrics = plan_metrics(spec);
  ASSERT_GE(metrics.size(), 10u);
  Serve s({"--spec", spec});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  const std::string key = "Authorization: Bearer keel-demo-team-search";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        s.post(completion("main", "The scenario spec names five constraints", 8), {key}).status,
        200);
  }
  EXPECT_EQ(s.post(completion("main", "Keel serves models", 8, /*stream=*/true), {key}).status,
            200);
  std::string text = s.metrics();
  EXPECT_EQ(missing_from(text, metrics), std::vector<std::string>{}) << text;
  EXPECT_EQ(sample(text, "keel_requests_total{status=\"200\",tenant=\"team-search\"}"), 4.0)
      << text;
  expect_promtool_accepts(text);
}

TEST(PlanMetrics, TheBrowserClassifierExportsEveryMetricItsPlanNames) {
  const std::string spec = repo("examples/browser-classifier.yaml");
  auto metrics = plan_metrics(spec);
  ASSERT_GE(metrics.size(), 8u);
  BackgroundProcess web({testing::keel_binary(), "web", "serve", "--spec", spec, "--listen",
                         "127.0.0.1:0"});
  ASSERT_TRUE(web.wait_for_output("listening on http://")) << web.output();
  const std::string url = testing::listening_url(web.output());
  // What a page does: load, report its measurements (one classified, one fell back), file a
  // document through the form, and ask the server once with consent.
  ASSERT_EQ(testing::http_request(url, "GET", "/").status, 200);
  Json measured = {{"report", 1},           {"provider", "wasm"},  {"load", "cold"},
                   {"bytes_fetched", 30572019}, {"init_ms", 715.0},  {"latencies_ms", {2.0, 3.0}},
                   {"long_tasks", 0},         {"js_heap_bytes", 1586035}};
  // A later report of the same visit: its latencies count, the visit does not count again.
  Json later = {{"report", 2}, {"provider", "wasm"}, {"load", "cold"}, {"latencies_ms", {4.0}}};
  Json fallback = {{"provider", "none"}, {"load", "none"}, {"fallback_reason", "memory: low"}};
  for (const auto& m : {measured, later, fallback})
    ASSERT_EQ(testing::http_request(url, "POST", "/api/measurements", dump_json(m)).status, 202);
  ASSERT_EQ(testing::http_request(url, "POST", "/api/submit",
                                  "document=Invoice+no+7&category=invoice&suggested=invoice")
                .status,
            200);
  ASSERT_EQ(testing::http_request(url, "POST", "/api/classify", R"({"text": "Invoice no 7"})",
                                  {"X-Keel-Consent: granted"})
                .status,
            200);
  std::string text = testing::http_request(url, "GET", "/metrics").body;
  EXPECT_EQ(missing_from(text, metrics), std::vector<std::string>{}) << text;
  EXPECT_EQ(sample(text, "keel_web_browser_sessions_total{provider=\"wasm\",load=\"cold\"}"), 1.0)
      << text;
  EXPECT_EQ(sample(text, "keel_web_browser_classify_seconds_count{provider=\"wasm\"}"), 3.0) << text;
  EXPECT_EQ(sample(text, "keel_web_browser_bytes_fetched_total{load=\"cold\"}"), 30572019.0);
  EXPECT_EQ(sample(text, "keel_web_requests_total{kind=\"page\"}"), 1.0) << text;
  expect_promtool_accepts(text);
}

TEST(PlanMetrics, TheDurableAgentExportsEveryMetricItsPlanNames) {
  const std::string spec = repo("examples/durable-agent.yaml");
  auto metrics = plan_metrics(spec);
  ASSERT_GE(metrics.size(), 8u);
  testing::TempDir dir;
  auto agent = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"agent"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--state-dir", dir.path()});
    return testing::run_keel(argv);
  };
  auto stats = [&] {
    auto r = agent({"stats", "--spec", spec, "--prometheus"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  // A case that needs a human: it waits, is approved, and resumes from its journal.
  auto run = agent({"run", spec, "--case", "CASE-2", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  std::string waiting = stats();
  EXPECT_EQ(sample(waiting, "keel_agent_cases_total"), 1.0) << waiting;
  EXPECT_EQ(sample(waiting, "keel_agent_cases{state=\"waiting_approval\"}"), 1.0) << waiting;
  EXPECT_EQ(sample(waiting, "keel_agent_cases{state=\"running\"}"), 0.0) << waiting;
  EXPECT_EQ(sample(waiting, "keel_agent_case_seconds_count"), 0.0) << waiting;
  auto pending = parse_json(agent({"pending", "--spec", spec, "--json"}).out);
  ASSERT_TRUE(pending.ok() && pending->size() == 1u);
  const Json& p = (*pending)[0];
  auto approve = agent({"approve", "CASE-2", std::to_string(p["step"].get<int>()), "--key",
                        repo("examples/durable-agent/supervisor.demo.key"), "--args-sha256",
                        p["args_sha256"].get<std::string>(), "--spec", spec});
  ASSERT_EQ(approve.exit_code, 0) << approve.err;
  auto resumed = agent({"resume", "CASE-2", "--spec", spec, "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;

  std::string text = stats();
  EXPECT_EQ(missing_from(text, metrics), std::vector<std::string>{}) << text;
  EXPECT_EQ(sample(text, "keel_agent_cases{state=\"waiting_approval\"}"), 0.0) << text;
  EXPECT_EQ(sample(text, "keel_agent_cases{state=\"completed\"}"), 1.0) << text;
  EXPECT_EQ(sample(text, "keel_agent_cases{state=\"running\"}"), 0.0) << text;
  EXPECT_EQ(sample(text, "keel_agent_case_seconds_count"), 1.0) << text;
  EXPECT_GT(sample(text, "keel_agent_case_seconds_sum").value_or(0), 0) << text;
  EXPECT_EQ(sample(text, "keel_agent_approvals_total{event=\"granted\"}"), 1.0) << text;
  EXPECT_GE(sample(text, "keel_agent_replays_total").value_or(0), 1) << text;
  EXPECT_GT(sample(text, "keel_agent_model_seconds_total").value_or(0), 0) << text;
  EXPECT_GT(sample(text, "keel_agent_model_tokens_total{kind=\"completion\"}").value_or(0), 0)
      << text;
  expect_promtool_accepts(text);
}

// The local research assistant's run writes its Prometheus text to --metrics FILE, whether
// the model answers in its own words or sentences of the passages are quoted.
TEST(PlanMetrics, TheLocalResearchRunExportsEveryMetricItsPlanNames) {
  const std::string spec = repo("examples/local-research.yaml");
  auto metrics = plan_metrics(spec);
  ASSERT_GE(metrics.size(), 5u);
  testing::TempDir dir;
  for (const std::string mode : {"generate", "extract"}) {
    SCOPED_TRACE("--answer " + mode);
    const std::string file = dir.file(mode + ".prom");
    auto r = testing::run_keel({"run", spec, "--question", "How are citations checked?", "--answer",
                                mode, "--store", dir.file("store"), "--metrics", file});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::string text = testing::read_file(file);
    EXPECT_EQ(missing_from(text, metrics), std::vector<std::string>{}) << text;
    EXPECT_GT(sample(text, "keel_index_documents").value_or(0), 0) << text;
    EXPECT_GT(sample(text, "keel_rss_peak_bytes").value_or(0), 0) << text;
    expect_promtool_accepts(text);
  }
}

// A client that sends a streamed request, reads the first bytes of the answer, then hangs up.
void hang_up_after_first_bytes(const std::string& url, const std::string& body) {
  std::string rest = url.substr(url.find("://") + 3);
  int port = std::stoi(rest.substr(rest.find(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string got;
  char buffer[4096];
  while (got.find("data:") == std::string::npos) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_NE(got.find("data:"), std::string::npos) << got;
  close(fd);
}

TEST(ServeGauges, MoveUnderLoadAndReturnToIdleAfterIt) {
  // Two slots for six requests (some wait), slow steps so the load lasts while it is watched.
  Serve s({"--model", repo(kChat), "--max-running", "2", "--slow-step-ms", "10"});
  ASSERT_TRUE(s.wait_ready()) << s.process->output();
  std::string idle = s.metrics();
  EXPECT_EQ(s.gauge(idle, "keel_requests_running"), 0);  // the warm-up request is over
  EXPECT_EQ(s.gauge(idle, "keel_requests_waiting"), 0);
  EXPECT_EQ(s.gauge(idle, "keel_kv_blocks_used_ratio"),
            s.gauge(idle, "keel_kv_blocks_cached_ratio"));

  std::atomic<bool> loading{true};
  double most_running = 0, most_waiting = 0, most_uncached = 0;
  std::thread watcher([&] {
    testing::poll_until(
        [&] {
          std::string m = s.metrics();
          most_running = std::max(most_running, sample(m, "keel_requests_running").value_or(0));
          most_waiting = std::max(most_waiting, sample(m, "keel_requests_waiting").value_or(0));
          most_uncached =
              std::max(most_uncached, sample(m, "keel_kv_blocks_used_ratio").value_or(0) -
                                          sample(m, "keel_kv_blocks_cached_ratio").value_or(0));
          return !loading;
        },
        300000, 5);
  });
  const std::vector<std::string> prompts = {"The scenario spec names five constraints",
                                            "Keel serves models",
                                            "A plan lists controls",
                                            "Every figure is measured",
                                            "Tenants take turns",
                                            "The gateway owns quotas"};
  std::vector<int> statuses(prompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i) {
    clients.emplace_back(
        [&, i] { statuses[i] = s.post(completion("keel-tiny-chat", prompts[i], 32)).status; });
  }
  for (auto& c : clients) c.join();
  loading = false;
  watcher.join();
  for (int status : statuses) EXPECT_EQ(status, 200);
  EXPECT_EQ(most_running, 2);
  EXPECT_GT(most_waiting, 0);
  EXPECT_GT(most_uncached, 0);

  // The gauges are back before the last answer reaches its client.
  std::string after = s.metrics();
  EXPECT_EQ(s.gauge(after, "keel_requests_running"), 0) << after;
  EXPECT_EQ(s.gauge(after, "keel_requests_waiting"), 0) << after;
  // Only the prefix cache holds blocks now: the finished requests' full blocks.
  EXPECT_EQ(s.gauge(after, "keel_kv_blocks_used_ratio"),
            s.gauge(after, "keel_kv_blocks_cached_ratio"))
      << after;
  EXPECT_EQ(sample(after, "keel_requests_total{status=\"200\",tenant=\"anonymous\"}"), 6.0)
      << after;

  // A client that leaves mid-answer: its generation is cancelled and the gauges return to idle.
  hang_up_after_first_bytes(
      s.url, dump_json(completion("keel-tiny-chat", "Keel serves models", 400, /*stream=*/true)));
  std::string left = s.metrics_when_idle();
  EXPECT_EQ(s.gauge(left, "keel_requests_running"), 0) << left;
  EXPECT_EQ(s.gauge(left, "keel_requests_waiting"), 0) << left;
  EXPECT_EQ(s.gauge(left, "keel_kv_blocks_used_ratio"),
            s.gauge(left, "keel_kv_blocks_cached_ratio"))
      << left;
  EXPECT_EQ(sample(left, "keel_kv_preemptions_total"), 0.0) << left;
}

// The llm-service plan's kv-exhausted fault, injected: a KV pool of one context (--kv-blocks)
// for four concurrent requests that each need most of it. Preemption must happen, every
// request must complete, and every answer must be the one a roomy server gives.
TEST(ServeFaults, AnExhaustedKvPoolPreemptsAndRecomputesWithTheSameAnswers) {
  const std::vector<std::string> prompts = {"The scenario spec names five constraints",
                                            "Keel serves models", "A plan lists controls",
                                            "Every figure is measured"};
  auto answers = [&](const std::vector<std::string>& extra, std::string* metrics_text) {
    std::vector<std::string> args = {"--model", repo(kChat), "--max-running",       "4",
                                     "--ctx",   "128",       "--max-queued-tokens", "100000"};
    args.insert(args.end(), extra.begin(), extra.end());
    Serve s(args);
    EXPECT_TRUE(s.wait_ready()) << s.process->output();
    std::vector<testing::HttpResult> results(prompts.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < prompts.size(); ++i) {
      clients.emplace_back(
          [&, i] { results[i] = s.post(completion("keel-tiny-chat", prompts[i], 100)); });
    }
    for (auto& c : clients) c.join();
    std::vector<std::string> texts;
    for (const auto& r : results) {
      EXPECT_EQ(r.status, 200) << r.body;
      auto j = parse_json(r.body);
      texts.push_back(j.ok() ? (*j)["choices"][0]["text"].get<std::string>() + "|" +
                                   std::to_string((*j)["usage"]["completion_tokens"].get<int64_t>())
                             : "");
    }
    *metrics_text = s.metrics();
    return texts;
  };
  std::string roomy_metrics, tight_metrics;
  auto roomy = answers({}, &roomy_metrics);
  auto tight = answers({"--kv-blocks", "8"}, &tight_metrics);  // 128 tokens: one context
  EXPECT_EQ(sample(roomy_metrics, "keel_kv_preemptions_total"), 0.0) << roomy_metrics;
  const double preemptions = sample(tight_metrics, "keel_kv_preemptions_total").value_or(0);
  EXPECT_GT(preemptions, 0) << tight_metrics;
  std::printf("KV pool of 8 blocks for 4 requests: %.0f preemptions\n", preemptions);
  EXPECT_EQ(tight, roomy);
  EXPECT_EQ(sample(tight_metrics, "keel_requests_running"), 0.0);
  EXPECT_EQ(sample(tight_metrics, "keel_requests_waiting"), 0.0);
  EXPECT_EQ(sample(tight_metrics, "keel_kv_blocks_used_ratio"),
            sample(tight_metrics, "keel_kv_blocks_cached_ratio"));
}

}  // namespace
}  // namespace keel
