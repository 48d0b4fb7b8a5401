// The field device's routed asks against a real private cloud on loopback: `keel serve` behind
// the device's key, reached through a fault-injecting TCP proxy (net/fault_proxy.h), and
// `keel sync serve` on a real PostgreSQL behind the same kind of proxy. Routes follow data
// class, capability and consent; the same model file answers the same greedy text on both
// routes, and a different one is reported as skew; a half-open or slow cloud fails closed for
// restricted data and falls back locally only where the policy permits; and sync through delay,
// loss, resets and a half-open link ends with each mutation applied exactly once.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "core/json.h"
#include "net/fault_proxy.h"
#include "support/test_support.h"

namespace keel {
namespace {

using testing::BackgroundProcess;

std::string repo(const std::string& relative) { return testing::source_dir() + "/" + relative; }

uint16_t port_of(const std::string& url) { return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))); }

class FieldRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = testing::run_keel({"keygen", "--tenant", "tablet-a", "--json"});
    ASSERT_EQ(key.exit_code, 0) << key.err;
    Json k = *parse_json(key.out);
    testing::write_file(dir_.file("device.key"), k["key"].get<std::string>() + "\n");
    testing::write_file(dir_.file("keys.yaml"), "tenants:\n" + k["key_file_entry"].get<std::string>() + "\n");
    write_spec("");
  }

  // The bundled spec, with loopback allowed out and absolute paths; the local model's estimate
  // and the probe's deadline replaced when given (5 s by default, so a busy machine's slow
  // probe is not taken for a dead link where a test is not about one).
  void write_spec(const std::string& local_estimate, const std::string& probe_deadline_ms = "5000") {
    std::string spec = testing::read_file(repo("examples/hybrid-field.yaml"));
    const std::string allow = "egress: {allow: [cloud.field.example]}";
    ASSERT_NE(spec.find(allow), std::string::npos);
    spec.replace(spec.find(allow), allow.size(), "egress: {allow: [cloud.field.example, \"127.0.0.1\"]}");
    for (size_t at; (at = spec.find("../models/")) != std::string::npos;) spec.replace(at, 10, repo("models/"));
    for (size_t at; (at = spec.find("path: hybrid-field/")) != std::string::npos;)
      spec.replace(at, 19, "path: " + repo("examples/hybrid-field/"));
    const std::string probe = "deadline_ms: 800}";
    ASSERT_NE(spec.find(probe), std::string::npos);
    spec.replace(spec.find(probe), probe.size(), "deadline_ms: " + probe_deadline_ms + "}");
    if (!local_estimate.empty()) {
      const std::string estimate = "estimate_ms: 1500";
      ASSERT_NE(spec.find(estimate), std::string::npos);
      spec.replace(spec.find(estimate), estimate.size(), "estimate_ms: " + local_estimate);
    }
    testing::write_file(dir_.file("field.yaml"), spec);
  }

  void start_cloud(const std::string& model, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {testing::keel_binary(), "serve", "--port", "0", "--model", model,
                                     "--model-id", "cloud", "--api-keys", dir_.file("keys.yaml")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    cloud_ = std::make_unique<BackgroundProcess>(argv);
    ASSERT_TRUE(cloud_->wait_for_output("listening on http://")) << cloud_->output();
    const std::string url = testing::listening_url(cloud_->output());
    ASSERT_TRUE(testing::poll_until([&] { return testing::http_request(url, "GET", "/readyz").status == 200; }))
        << cloud_->output();
    auto proxy = net::FaultProxy::start("127.0.0.1", 0, "127.0.0.1", port_of(url));
    ASSERT_TRUE(proxy.ok()) << proxy.status().to_string();
    proxy_ = std::move(*proxy);
  }

  testing::CommandResult ask(const std::string& task, const std::string& question, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"field", "ask", question, "--task", task, "--store", dir_.file("device.db"),
                                     "--spec", dir_.file("field.yaml"), "--key-file", dir_.file("device.key"),
                                     "--cloud-url", "http://127.0.0.1:" + std::to_string(proxy_->port()) + "/v1",
                                     "--max-tokens", "24", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_keel(args);
  }
  static Json record(const testing::CommandResult& r) {
    auto j = parse_json(r.out);
    EXPECT_TRUE(j.ok()) << r.out << r.err;
    return j.ok() ? *j : Json::object();
  }
  std::string metric(const std::string& line_start) {
    auto r = testing::run_keel({"field", "metrics", "--store", dir_.file("device.db")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (size_t at = 0; (at = r.out.find(line_start, at)) != std::string::npos; ++at)
      if (at == 0 || r.out[at - 1] == '\n') {
        const size_t end = r.out.find('\n', at);
        return r.out.substr(at + line_start.size() + 1, end - at - line_start.size() - 1);
      }
    return "";
  }

  testing::TempDir dir_;
  std::unique_ptr<BackgroundProcess> cloud_;
  std::unique_ptr<net::FaultProxy> proxy_;
};

TEST_F(FieldRoutes, RoutesFollowClassCapabilityAndConsent) {
  start_cloud(repo("models/keel-tiny-chat.gguf"));
  Json lookup = record(ask("lookup", "How tight is the M8 bolt?"));
  EXPECT_EQ(lookup["status"], "answered");
  EXPECT_EQ(lookup["route"], "local") << lookup.dump();  // local first within the deadline
  EXPECT_NE(lookup["reason"].get<std::string>().find("within the 3000 ms deadline"), std::string::npos);

  Json history = record(ask("history", "Summarize this pump's history"));
  EXPECT_EQ(history["route"], "cloud") << history.dump();
  EXPECT_EQ(history["rejected"][0], "local (local) lacks long-context");

  Json incident = record(ask("incident", "Write up the gas leak"));
  EXPECT_EQ(incident["route"], "cloud") << incident.dump();
  EXPECT_EQ(incident["rejected"][0], "local (local) is not approved for restricted data");

  // Confidential data reaches the cloud only with the user's recorded consent.
  auto refused = ask("diagnose", "Why does the pump stall?", {"--route", "cloud"});
  EXPECT_EQ(refused.exit_code, 4) << refused.out << refused.err;
  Json r = record(refused);
  EXPECT_EQ(r["status"], "refused");
  EXPECT_TRUE(r["route"].is_null());
  EXPECT_NE(r.dump().find("needs the user's consent for confidential data"), std::string::npos) << r.dump();
  auto consent = testing::run_keel({"field", "consent", "confidential", "--allow", "--store", dir_.file("device.db"),
                                    "--spec", dir_.file("field.yaml")});
  ASSERT_EQ(consent.exit_code, 0) << consent.err;
  EXPECT_EQ(record(ask("diagnose", "Why does the pump stall?", {"--route", "cloud"}))["route"], "cloud");
  EXPECT_NE(testing::run_keel({"field", "consent", "secret", "--allow", "--store", dir_.file("device.db"),
                               "--spec", dir_.file("field.yaml")}).exit_code, 0);
  auto unknown = ask("teleport", "?");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown task type 'teleport'"), std::string::npos) << unknown.err;

  EXPECT_EQ(metric("keel_route_decisions_total{outcome=\"answered\",route=\"cloud\"}"), "3");
  EXPECT_EQ(metric("keel_route_decisions_total{outcome=\"answered\",route=\"local\"}"), "1");
  EXPECT_EQ(metric("keel_route_decisions_total{outcome=\"refused\",route=\"\"}"), "1");
  EXPECT_EQ(metric("keel_offline_requests_total"), "0");
}

TEST_F(FieldRoutes, TheSameModelFileAnswersTheSameOnBothRoutesAndAnotherIsReportedAsSkew) {
  start_cloud(repo("models/keel-tiny-chat.gguf"));
  for (const std::string q : {"How do I reset the pump controller?", "What does K013 check?", "Name the seven scenarios."}) {
    Json local = record(ask("lookup", q, {"--route", "local"}));
    Json cloud = record(ask("lookup", q, {"--route", "cloud"}));
    ASSERT_EQ(local["route"], "local") << local.dump();
    ASSERT_EQ(cloud["route"], "cloud") << cloud.dump();
    EXPECT_FALSE(local["answer"].get<std::string>().empty());
    EXPECT_EQ(local["answer"], cloud["answer"]) << q;
    EXPECT_EQ(local["model"]["sha256"], cloud["model"]["sha256"]);
    EXPECT_EQ(local["model"]["keel_version"], cloud["model"]["keel_version"]);
    EXPECT_EQ(cloud["parity"]["same"], true) << cloud.dump();
  }
  EXPECT_DOUBLE_EQ(std::stod(metric("keel_model_version_parity")), 1.0);

  // The cloud now serves another file of the same model (quantized): reported, never silent.
  auto q = testing::run_keel({"quantize", repo("models/keel-tiny-chat.gguf"), dir_.file("other.gguf"), "Q8_0"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  cloud_.reset();
  proxy_.reset();
  start_cloud(dir_.file("other.gguf"));
  Json skewed = record(ask("lookup", "What does K013 check?", {"--route", "cloud"}));
  ASSERT_EQ(skewed["status"], "answered") << skewed.dump();
  EXPECT_EQ(skewed["parity"]["same"], false);
  EXPECT_NE(skewed["parity"]["skew"].get<std::string>().find("model file"), std::string::npos) << skewed.dump();
  EXPECT_NE(skewed["model"]["sha256"], skewed["parity"]["device_sha256"]);
  EXPECT_DOUBLE_EQ(std::stod(metric("keel_model_version_parity")), 0.75);
}

// A model with a current compatibility record (keel check-model) is named from the record,
// without reading the file again; the name is the same.
TEST_F(FieldRoutes, TheCloudNamesAModelFromItsCurrentRecordWithoutHashingIt) {
  std::filesystem::copy_file(repo("models/keel-tiny-chat.gguf"), dir_.file("checked.gguf"));
  auto check = testing::run_keel({"check-model", dir_.file("checked.gguf")});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  start_cloud(dir_.file("checked.gguf"));
  EXPECT_EQ(cloud_->output().find("hashed"), std::string::npos) << cloud_->output();
  Json cloud = record(ask("lookup", "What does K013 check?", {"--route", "cloud"}));
  ASSERT_EQ(cloud["status"], "answered") << cloud.dump();
  EXPECT_EQ(cloud["parity"]["same"], true) << cloud.dump();
}

TEST_F(FieldRoutes, AHalfOpenLinkFailsClosedForRestrictedDataAndQueuedWorkIsAnsweredOnceItHeals) {
  write_spec("", "800");
  start_cloud(repo("models/keel-tiny-chat.gguf"));
  net::FaultSettings half_open;
  half_open.half_open = true;
  proxy_->set(half_open);
  auto incident = ask("incident", "Write up the gas leak");
  EXPECT_EQ(incident.exit_code, 4) << incident.out << incident.err;
  Json r = record(incident);
  EXPECT_EQ(r["status"], "refused");
  EXPECT_EQ(r["offline"], true);
  EXPECT_NE(r.dump().find("no answer within 800 ms"), std::string::npos) << r.dump();
  Json lookup = record(ask("lookup", "How tight is the M8 bolt?"));
  EXPECT_EQ(lookup["route"], "local");  // internal work goes on offline
  EXPECT_EQ(lookup["offline"], true);
  auto queued = ask("incident", "Write up the valve fire", {"--queue"});
  EXPECT_EQ(queued.exit_code, 3) << queued.out << queued.err;
  EXPECT_GT(proxy_->stats().stalled, 0);

  proxy_->set(net::FaultSettings{});  // the link heals
  auto retry = testing::run_keel({"field", "ask", "--retry-queued", "--store", dir_.file("device.db"), "--spec",
                                  dir_.file("field.yaml"), "--key-file", dir_.file("device.key"), "--cloud-url",
                                  "http://127.0.0.1:" + std::to_string(proxy_->port()) + "/v1", "--json"});
  EXPECT_EQ(retry.exit_code, 0) << retry.out << retry.err;
  Json done = record(retry);
  ASSERT_EQ(done["asked"], 1);
  EXPECT_EQ(done["asks"][0]["route"], "cloud");
  EXPECT_EQ(done["asks"][0]["status"], "answered");
  EXPECT_EQ(metric("keel_offline_requests_total"), "3");
  // Three asks made offline: the internal one answered on the device, the queued one once the
  // link healed, the refused one never.
  EXPECT_NEAR(std::stod(metric("keel_offline_success_ratio")), 2.0 / 3, 1e-9);
  auto journal = testing::run_keel({"field", "asks", "--store", dir_.file("device.db"), "--json"});
  Json rows = record(journal);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2]["status"], "answered");  // the queued row, completed in place
  EXPECT_EQ(rows[2]["offline"], true);       // made offline, answered once the link came back
  EXPECT_TRUE(rows[2]["answer"].is_null());  // answers and questions are not kept (retention)
}

TEST_F(FieldRoutes, ACloudTooSlowFallsBackLocallyOnlyWherePermitted) {
  write_spec("5000");  // the device's model is predicted over lookup's 3000 ms deadline: cloud first
  start_cloud(repo("models/keel-tiny-chat.gguf"), {"--slow-step-ms", "3000"});
  Json fallback = record(ask("lookup", "How tight is the M8 bolt?", {"--timeout-ms", "1000"}));
  EXPECT_EQ(fallback["status"], "answered") << fallback.dump();
  EXPECT_EQ(fallback["route"], "local");
  EXPECT_EQ(fallback["fallback"], true);
  EXPECT_NE(fallback["reason"].get<std::string>().find("cloud failed"), std::string::npos) << fallback.dump();
  // Restricted data may go to the cloud only: its failure is the ask's (the question reached
  // it, the outcome is unknown), never an answer from the device.
  auto incident = ask("incident", "Write up the gas leak", {"--timeout-ms", "1000"});
  EXPECT_EQ(incident.exit_code, 1) << incident.out << incident.err;
  Json r = record(incident);
  EXPECT_EQ(r["status"], "failed");
  EXPECT_TRUE(r["route"].is_null());
  EXPECT_EQ(r["fallback"], false);
  EXPECT_NE(r["error"].get<std::string>().find("deadline"), std::string::npos) << r.dump();
  EXPECT_NE(r["reason"].get<std::string>().find("cloud failed"), std::string::npos) << r.dump();
  EXPECT_EQ(metric("keel_route_fallbacks_total"), "1");
}

// What the plan promises to measure is what `keel field metrics` exports, with samples, in a
// form Prometheus' own checker accepts; and the figures move with the asks.
TEST_F(FieldRoutes, TheDeviceExportsEveryMetricItsPlanNames) {
  start_cloud(repo("models/keel-tiny-chat.gguf"));
  ASSERT_EQ(record(ask("lookup", "How tight is the M8 bolt?"))["route"], "local");
  ASSERT_EQ(record(ask("incident", "Write up the gas leak"))["route"], "cloud");
  auto plan = testing::run_keel({"plan", "--json", dir_.file("field.yaml")});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  auto metrics = testing::run_keel({"field", "metrics", "--store", dir_.file("device.db")});
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  int named = 0;
  const Json plan_json = record(plan);
  for (const auto& m : plan_json["metrics"]) {
    ++named;
    std::vector<std::string> series = {m["name"].get<std::string>()};
    if (m["kind"] == "histogram") series = {series[0] + "_bucket", series[0] + "_sum", series[0] + "_count"};
    for (const auto& name : series) {
      const bool sampled = metrics.out.find("\n" + name + " ") != std::string::npos ||
                           metrics.out.find("\n" + name + "{") != std::string::npos;
      EXPECT_TRUE(sampled) << name << " is named by the plan but not exported:\n" << metrics.out;
    }
  }
  EXPECT_EQ(named, 8);
  auto check = testing::run_command({"promtool", "check", "metrics"}, metrics.out);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << metrics.out;
  EXPECT_EQ(metric("keel_request_seconds_count{route=\"local\"}"), "1");
  EXPECT_EQ(metric("keel_request_seconds_count{route=\"cloud\"}"), "1");
}

// keel eval hybrid-field runs the whole scenario with its faults on this machine; its report is
// checked here for the figures the scenario promises, not just for running.
TEST(FieldEval, RunsEveryPhaseWithNoForbiddenRouteFullParityAndExactlyOnceSync) {
  auto r = testing::run_keel({"eval", "hybrid-field", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto parsed = parse_json(r.out);
  ASSERT_TRUE(parsed.ok()) << r.out;
  const Json& e = *parsed;
  EXPECT_EQ(e["ok"], true);
  EXPECT_EQ(e["violations"]["count"], 0);
  EXPECT_GT(e["parity"]["prompts"].get<int>(), 0);
  EXPECT_EQ(e["parity"]["identical"], e["parity"]["prompts"]);
  EXPECT_EQ(e["parity"]["same_model"], e["parity"]["prompts"]);
  std::map<std::string, int> restricted;  // outcome -> count, for the restricted task type
  for (const auto& row : e["routes"])
    if (row["class"] == "restricted") restricted[row["phase"].get<std::string>() + ": " + row["outcome"].get<std::string>()] += row["count"].get<int>();
  EXPECT_EQ(restricted["online: cloud"], 2);
  EXPECT_EQ(restricted["link half-open: queued"], 2);
  EXPECT_EQ(restricted["cloud refusing: refused"], 2);
  EXPECT_EQ(restricted["cloud too slow: failed"], 2);
  EXPECT_EQ(restricted["healed: queued asks again: cloud"], 2);
  EXPECT_GT(e["offline"]["asks"].get<int>(), 0);
  EXPECT_GT(e["offline"]["answered"].get<int>(), 0);
  EXPECT_GT(e["latency"]["local"]["answers"].get<int>(), 0);
  EXPECT_GT(e["latency"]["cloud"]["answers"].get<int>(), 0);
  const Json& sync = e["sync"];
  EXPECT_EQ(sync["converged"], true) << sync.dump();
  EXPECT_EQ(sync["lost"], 0);
  EXPECT_EQ(sync["ledger_rows"], sync["ledger_distinct"]);
  for (const char* rule : {"merge", "ask", "server-wins", "device-wins"})
    EXPECT_EQ(sync["conflicts_by_rule"][rule], 1) << rule << ": " << sync.dump();
  EXPECT_GT(sync["syncs_cut"].get<int>(), 0);
  EXPECT_GT(sync["duplicates_answered"].get<int>() + sync["recovered_from_pull"].get<int>(), 0);
  for (const char* n : {"1", "10", "100"}) EXPECT_GT(sync["converge_after_partition"][n]["median_ms"].get<double>(), 0);
}

// Sync through the proxy: delay and loss slow it, a reset and a half-open link cut it; each time
// the next sync finishes and the ledger holds every mutation once.
class FieldSyncFaults : public FieldRoutes {
 protected:
  void SetUp() override {
    FieldRoutes::SetUp();
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    server_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
        testing::keel_binary(), "sync", "serve", "--spec", dir_.file("field.yaml"), "--database", pg_.uri(), "--keys",
        dir_.file("keys.yaml"), "--host", "127.0.0.1", "--port", "0"});
    ASSERT_TRUE(server_->wait_for_output("listening on http://")) << server_->output();
    auto proxy = net::FaultProxy::start("127.0.0.1", 0, "127.0.0.1", port_of(testing::listening_url(server_->output())));
    ASSERT_TRUE(proxy.ok());
    proxy_ = std::move(*proxy);
  }
  void change(int from, int to) {
    for (int i = from; i <= to; ++i) {
      std::vector<std::string> args = {"field", "do", "readings", "R-" + std::to_string(i), "value=" + std::to_string(i),
                                       "--store", dir_.file("device.db")};
      if (i == 1) args.insert(args.end(), {"--device", "tablet-a"});
      ASSERT_EQ(testing::run_keel(args).exit_code, 0);
    }
  }
  testing::CommandResult sync(int timeout_ms) {
    return testing::run_keel({"field", "sync", "--store", dir_.file("device.db"), "--spec", dir_.file("field.yaml"),
                              "--url", "http://127.0.0.1:" + std::to_string(proxy_->port()), "--key-file",
                              dir_.file("device.key"), "--timeout-ms", std::to_string(timeout_ms), "--json"});
  }
  void expect_ledger(int n) {
    EXPECT_EQ(pg_.scalar("SELECT count(*) FROM keel_sync_ledger WHERE device = 'tablet-a'"), std::to_string(n));
    EXPECT_EQ(pg_.scalar("SELECT count(DISTINCT seq) FROM keel_sync_ledger WHERE device = 'tablet-a' AND seq BETWEEN 1 AND " +
                         std::to_string(n)),
              std::to_string(n));
  }
  testing::PostgresServer pg_;
  std::unique_ptr<BackgroundProcess> server_;
};

TEST_F(FieldSyncFaults, DelayLossResetsAndAHalfOpenLinkLoseNothingAndApplyNothingTwice) {
  change(1, 10);
  net::FaultSettings slow;
  slow.delay_ms = 20;
  slow.loss = 0.3;
  slow.retransmit_ms = 50;
  slow.seed = 7;
  proxy_->set(slow);
  auto r = sync(20000);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(proxy_->stats().losses, 0);
  expect_ledger(10);

  // Resets: half the connections are cut by RST once their request reached the server, so some
  // pushes are applied without the device hearing of it; it sends them again and the ledger
  // answers them as duplicates.
  change(11, 20);
  net::FaultSettings reset;
  reset.reset_chance = 0.5;
  reset.seed = 3;  // its draws doom the first push (the second connection) and the pull after it
  proxy_->set(reset);
  int cut_short = 0;
  for (int i = 0; i < 12; ++i) {
    auto attempt = sync(3000);
    if (attempt.exit_code == 0) break;
    ++cut_short;
  }
  EXPECT_GT(cut_short, 0);
  EXPECT_GT(proxy_->stats().resets, 0);
  expect_ledger(20);

  change(21, 25);
  net::FaultSettings half_open;
  half_open.half_open = true;
  proxy_->set(half_open);
  auto cut = sync(1000);
  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  EXPECT_NE(cut.err.find("deadline"), std::string::npos) << cut.err;

  proxy_->set(net::FaultSettings{});
  auto healed = sync(5000);
  EXPECT_EQ(healed.exit_code, 0) << healed.out << healed.err;
  expect_ledger(25);
  EXPECT_EQ(sync(5000).exit_code, 0);  // nothing left, nothing sent again
  expect_ledger(25);
  auto status = testing::run_keel({"field", "status", "--store", dir_.file("device.db"), "--json"});
  EXPECT_EQ((*parse_json(status.out))["queued"], 0);
  // Pushes applied but answered by a reset: found in the change log or answered as duplicates.
  EXPECT_GT(std::stoi(metric("keel_sync_duplicates_prevented_total")), 0);
}

}  // namespace
}  // namespace keel
