// The durable journal against the physical limit: the disk's own fsync rate, measured in the
// same run in the same folder, next to SQLite journal appends (synchronous=FULL: one fsync per
// append) and whole cases per second; then a PostgreSQL journal with 1, 2 and 4 workers when
// --pg gives a server (bench/agent_bench.sh starts one).
//
// The workflow here is ten journaled steps over an in-memory tool (five reads, five writes with
// idempotency keys), so the figures are the journal's, not a model's or a database's.
//
//   agent_journal_bench [--dir DIR] [--appends N] [--cases N] [--pg URI] [--repeats R]
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/case_runner.h"
#include "agent/journal.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "core/text_table.h"

using namespace keel;
using namespace keel::agent;
using SteadyClock = std::chrono::steady_clock;

namespace {

double ms_since(SteadyClock::time_point t) { return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count(); }

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

double median(std::vector<double> v) { return pct(std::move(v), 0.5); }

struct Latency {
  double per_s = 0, p50_ms = 0, p99_ms = 0;
};

// 4 KiB written and fdatasync'ed, over and over: what the disk allows.
Latency fsync_rate(const std::string& dir, int n) {
  std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return {};
  std::vector<char> block(4096, 'k');
  std::vector<double> lat;
  auto start = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    auto t = SteadyClock::now();
    if (pwrite(fd, block.data(), block.size(), static_cast<off_t>(i % 64) * 4096) < 0) break;
    fdatasync(fd);
    lat.push_back(ms_since(t));
  }
  double total = ms_since(start);
  ::close(fd);
  std::filesystem::remove(path);
  return {n / (total / 1000.0), pct(lat, 0.5), pct(lat, 0.99)};
}

Latency append_rate(JournalStore& j, const std::string& case_id, int n) {
  CaseInfo info;
  info.id = case_id;
  info.workflow = "bench";
  info.principal = "agent";
  JournalRecord first;
  first.kind = "case_started";
  if (!j.create_case(info, first).ok()) return {};
  std::vector<double> lat;
  auto start = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    JournalRecord r;
    r.kind = i % 2 ? "outcome" : "intent";
    r.step = i / 2;
    r.data = {{"tool", "bench"}, {"args", {{"i", i}}}, {"idempotency_key", fmt::format("keel-bench-{}", i)}};
    auto t = SteadyClock::now();
    Status s = j.append(case_id, i + 1, {r}, std::nullopt);
    if (!s.ok()) {
      std::fprintf(stderr, "append failed: %s\n", s.to_string().c_str());
      break;
    }
    lat.push_back(ms_since(t));
  }
  double total = ms_since(start);
  return {n / (total / 1000.0), pct(lat, 0.5), pct(lat, 0.99)};
}

// An in-memory system of record: reads return a counter, writes are deduplicated by key.
class MemoryTool : public Tool {
 public:
  MemoryTool(std::string name, contract::Effect effect) {
    def_.name = std::move(name);
    def_.effect = effect;
    def_.input_schema = {{"type", "object"}};
    def_.output_schema = {{"type", "object"}};
  }
  const ToolDefinition& definition() const override { return def_; }
  Result<Json> call(const Json& args, const ToolCallContext& ctx) override {
    std::lock_guard lock(mutex_);
    if (!ctx.idempotency_key.empty()) done_[ctx.idempotency_key] = args;
    return Json{{"ok", true}};
  }
  Result<std::optional<Json>> check_outcome(const ToolCallContext& ctx) override {
    std::lock_guard lock(mutex_);
    auto it = done_.find(ctx.idempotency_key);
    if (it == done_.end()) return std::optional<Json>();
    return std::optional<Json>(Json{{"ok", true}});
  }

 private:
  ToolDefinition def_;
  std::mutex mutex_;
  std::map<std::string, Json> done_;
};

const char* kSpec = R"(
keel: 1
name: journal-bench
scenario: durable-agent
data: {classes: [internal]}
authority:
  principals: [{id: agent, roles: [worker]}]
  tools:
    - {name: fetch, effect: read, roles: [worker]}
    - {name: record, effect: write, idempotency: required, roles: [worker]}
  system_of_record: sor
slo: {e2e_ms: {p95: 1000}, workload: {rps: 10}}
deployment: {target: workflow, egress: none}
failure: {inject: [worker-kill]}
components: [{id: sor, kind: sqlite, path: sor.db}]
)";

WorkflowDefinition ten_steps() {
  return {"ten-steps", 1, "five reads and five writes", [](WorkflowContext& ctx) -> Result<Json> {
            for (int i = 0; i < 5; ++i) {
              KEEL_RETURN_IF_ERROR(ctx.call_tool("fetch", {{"i", i}}).status());
              KEEL_RETURN_IF_ERROR(ctx.call_tool("record", {{"i", i}}).status());
            }
            return Json{{"done", true}};
          }};
}

struct Fixture {
  ToolRegistry tools;
  Policy policy;
  WorkflowRegistry workflows;
  Fixture() {
    (void)tools.add(std::make_shared<MemoryTool>("fetch", contract::Effect::read));
    (void)tools.add(std::make_shared<MemoryTool>("record", contract::Effect::write));
    auto parsed = contract::parse_spec_text(kSpec);
    policy = *Policy::from_spec(*parsed);
    workflows.add(ten_steps());
  }
};

// `workers` threads, each with its own connection, create and run cases until `cases` are done.
double cases_per_second(const std::string& location, int workers, int cases, const std::string& prefix) {
  Fixture f;
  std::atomic<int> next{0}, failed{0};
  auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto j = open_journal(location);
      if (!j.ok()) {
        ++failed;
        return;
      }
      CaseRunner runner(**j, f.tools, f.policy, f.workflows, nullptr, {.worker_id = fmt::format("bench-{}", w)});
      for (int i; (i = next++) < cases;) {
        auto r = runner.start(fmt::format("{}-{}", prefix, i), "ten-steps", Json::object(), "agent");
        if (!r.ok() || r->state != CaseState::completed) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = ms_since(start) / 1000.0;
  if (failed) std::fprintf(stderr, "%d case(s) failed\n", failed.load());
  return cases / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::filesystem::temp_directory_path() / "keel-journal-bench";
  std::string pg;
  int appends = 500, cases = 50, repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--pg") pg = argv[i + 1];
    else if (a == "--appends") appends = std::atoi(argv[i + 1]);
    else if (a == "--cases") cases = std::atoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::fprintf(stderr, "[journal-bench] folder %s, %d repeats (medians reported)\n", dir.c_str(), repeats);

  std::vector<double> fsync_s, fsync_p50, fsync_p99, append_s, append_p50, append_p99, sqlite_cases;
  for (int r = 0; r < repeats; ++r) {
    auto f = fsync_rate(dir, appends);
    fsync_s.push_back(f.per_s);
    fsync_p50.push_back(f.p50_ms);
    fsync_p99.push_back(f.p99_ms);
    auto j = open_journal(fmt::format("{}/journal-{}.db", dir, r));
    if (!j.ok()) {
      std::fprintf(stderr, "%s\n", j.status().to_string().c_str());
      return 1;
    }
    auto a = append_rate(**j, "append-bench", appends);
    append_s.push_back(a.per_s);
    append_p50.push_back(a.p50_ms);
    append_p99.push_back(a.p99_ms);
    sqlite_cases.push_back(cases_per_second(fmt::format("{}/cases-{}.db", dir, r), 1, cases, "sqlite"));
    std::fprintf(stderr, "[journal-bench] run %d: fsync %.0f/s, append %.0f/s, %.1f cases/s\n", r + 1, f.per_s, a.per_s,
                 sqlite_cases.back());
  }
  TextTable t({"measure", "per second", "p50", "p99", "vs fsync"});
  double fs = median(fsync_s);
  t.add_row({"fsync of 4 KiB (the disk's limit)", fmt::format("{:.0f}", fs), fmt::format("{:.2f} ms", median(fsync_p50)),
             fmt::format("{:.2f} ms", median(fsync_p99)), "1.00"});
  t.add_row({"SQLite journal append (synchronous=FULL)", fmt::format("{:.0f}", median(append_s)),
             fmt::format("{:.2f} ms", median(append_p50)), fmt::format("{:.2f} ms", median(append_p99)),
             fmt::format("{:.2f}", median(append_s) / fs)});
  // A ten-step case journals 1 start + 10 x (policy, intent, outcome) + 1 completion = 32 records.
  t.add_row({"SQLite cases (10 steps, 32 appends each)", fmt::format("{:.1f}", median(sqlite_cases)), "", "",
             fmt::format("{:.2f}", median(sqlite_cases) * 32 / fs)});
  if (!pg.empty()) {
    for (int workers : {1, 2, 4}) {
      std::vector<double> v;
      for (int r = 0; r < repeats; ++r) v.push_back(cases_per_second(pg, workers, cases, fmt::format("pg{}-{}", workers, r)));
      t.add_row({fmt::format("PostgreSQL cases, {} worker(s)", workers), fmt::format("{:.1f}", median(v)), "", "", ""});
      std::fprintf(stderr, "[journal-bench] PostgreSQL %d worker(s): %.1f cases/s\n", workers, median(v));
    }
  }
  std::printf("\n%s", t.render().c_str());
  std::filesystem::remove_all(dir);
  return 0;
}
