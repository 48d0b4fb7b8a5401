#include "apps/keel/field_eval.h"

#include <fmt/format.h>
#include <sodium.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "apps/keel/field_setup.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/local_postgres.h"
#include "core/pg_client.h"
#include "core/statistics.h"
#include "core/text_table.h"
#include "net/fault_proxy.h"
#include "net/http_client.h"
#include "route/field_assistant.h"
#include "serve/gateway.h"
#include "serve/server.h"
#include "sync/device_store.h"
#include "sync/sync_client.h"
#include "sync/sync_server.h"

namespace keel::app {
namespace {

constexpr const char* kDevices[] = {"tablet-a", "tablet-b", "tablet-c"};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel eval: %s\n", message.c_str());
  return 1;
}

void progress(const std::string& line) { std::fprintf(stderr, "keel eval: %s\n", line.c_str()); }

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

// A server running on its own thread until this goes.
struct Running {
  std::thread thread;
  std::function<void()> stop;
  Running() = default;
  Running(Running&&) = default;
  Running& operator=(Running&&) = default;
  ~Running() {
    if (stop) stop();
    if (thread.joinable()) thread.join();
  }
};

struct AskSet {
  std::string user = "technician";
  std::vector<std::pair<std::string, std::string>> asks;  // task, question
  std::vector<std::string> parity;
};

Result<AskSet> read_asks(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto j = parse_json(text);
  if (!j.ok() || !j->is_object()) return Status::invalid_argument(path + ": not a JSON object");
  AskSet set;
  if (j->contains("user")) {
    if (!(*j)["user"].is_string()) return Status::invalid_argument(path + ": user must be a string");
    set.user = (*j)["user"].get<std::string>();
  }
  if (!j->value("asks", Json::array()).is_array() || !j->value("parity", Json::array()).is_array())
    return Status::invalid_argument(path + ": asks and parity must be lists");
  for (const auto& a : j->value("asks", Json::array())) {
    if (!a.is_object() || !a.value("task", Json()).is_string() || !a.value("question", Json()).is_string())
      return Status::invalid_argument(path + ": each ask needs a task and a question");
    set.asks.emplace_back(a["task"].get<std::string>(), a["question"].get<std::string>());
  }
  for (const auto& p : j->value("parity", Json::array())) {
    if (!p.is_string()) return Status::invalid_argument(path + ": parity prompts are strings");
    set.parity.push_back(p.get<std::string>());
  }
  if (set.asks.empty()) return Status::invalid_argument(path + ": no asks");
  return set;
}

// A device key for each device, in the gateway's key-file form (keel keygen's).
Result<std::map<std::string, std::string>> write_keys(const std::string& file) {
  if (sodium_init() < 0) return Status::unavailable("no random source");
  std::map<std::string, std::string> keys;
  std::string yaml = "tenants:\n";
  for (const char* device : kDevices) {
    std::vector<uint8_t> bytes(24);
    randombytes_buf(bytes.data(), bytes.size());
    const std::string key = "keel-" + to_hex(bytes);
    keys[device] = key;
    yaml += fmt::format("- id: \"{}\"\n  keys_sha256: [{}]\n", device, sha256_hex(key));
  }
  KEEL_RETURN_IF_ERROR(write_file_atomically(file, yaml));
  return keys;
}

Status wait_ready(const std::string& url, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    net::HttpClientRequest req;
    req.url = url;
    req.timeout_ms = 1000;
    auto r = net::http_fetch(req);
    if (r.ok() && r->status == 200) return Status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::deadline_exceeded(fmt::format("{} was not ready within {} ms", url, timeout_ms));
}

// ---- routes -------------------------------------------------------------------------------

struct RouteTally {
  struct Row {
    std::string phase, fault, task, data_class, outcome, reason;
    int count = 0;
  };
  std::vector<Row> rows;
  std::vector<route::AskRecord> answered;
  int asks = 0, fallbacks = 0, offline = 0, offline_answered = 0, violations = 0;
  std::vector<std::string> violation_details;

  //! `retry`: a queued ask asked again (already counted as an ask, offline or not).
  void add(const std::string& phase, const std::string& fault, const route::AskRecord& r, bool retry = false) {
    if (!retry) ++asks;
    std::string outcome = r.status == "answered" ? r.route + (r.fallback ? " (fallback)" : "") : r.status;
    std::string reason = r.reason;
    if (r.status != "answered" && !r.rejected.empty()) {
      reason.clear();
      for (const auto& why : r.rejected) reason += (reason.empty() ? "" : "; ") + why.get<std::string>();
    }
    fallbacks += r.fallback;
    if (!retry) offline += r.offline;
    if (r.status == "answered") {
      answered.push_back(r);
      offline_answered += r.offline;
    }
    for (auto& row : rows)
      if (row.phase == phase && row.task == r.task && row.outcome == outcome) {
        ++row.count;
        return;
      }
    rows.push_back({phase, fault, r.task, r.data_class, outcome, reason, 1});
  }
};

// An answered ask whose model the spec does not approve for its class, or a cloud answer of a
// consent class before the user consented, is a violation.
void audit(const contract::Spec& spec, const route::AskRecord& r, bool consent_given, RouteTally* t) {
  if (r.status != "answered") return;
  const contract::ModelSpec* m = spec.find_model(r.model_id);
  bool approved = false;
  if (m)
    for (auto c : spec.data.classes)
      if (contract::enum_name(c) == r.data_class) approved = m->approved_for(c);
  bool consent_needed = false;
  for (auto c : spec.routing.consent) consent_needed |= contract::enum_name(c) == r.data_class;
  if (spec.routing.consent.empty() && spec.deployment.remote_fallback == contract::RemoteFallback::opt_in)
    consent_needed = true;
  if (!approved || (r.route == "cloud" && consent_needed && !consent_given)) {
    ++t->violations;
    t->violation_details.push_back(fmt::format("ask {} ({} data) answered on {} ({})", r.id, r.data_class, r.route,
                                               approved ? "without consent" : "model not approved"));
  }
}

struct ParityResult {
  int prompts = 0, identical = 0, same_model = 0, same_version = 0;
  std::vector<std::string> differences;
};

// ---- sync ---------------------------------------------------------------------------------

struct SyncFigures {
  std::map<std::string, int> conflicts_by_rule;
  int held = 0, resolved = 0, dropped = 0, rebased = 0;
  int64_t applied = 0, duplicates = 0, recovered = 0, made = 0, ledger = 0, ledger_distinct = 0;
  int cut_syncs = 0, resets = 0;
  bool converged = false;
  std::vector<std::string> divergent;
  std::map<int, double> converge_ms;  // queued -> median ms
  std::map<int, int> converge_rounds;
};

void add_report(const sync::SyncReport& r, SyncFigures* f) {
  for (const auto& c : r.reconcile.conflicts) ++f->conflicts_by_rule[std::string(sync::field_rule_name(c.rule))];
  f->held += r.reconcile.held;
  f->dropped += r.reconcile.dropped;
  f->rebased += r.reconcile.rebased;
  f->applied += r.applied;
  f->duplicates += r.duplicates;
  f->recovered += r.recovered;
}

Status change(sync::DeviceStore& d, const std::string& collection, const std::string& record, const Json& set,
              SyncFigures* f) {
  KEEL_RETURN_IF_ERROR(d.change(collection, record, set).status());
  ++f->made;
  return Status();
}

// Sync until nothing is left or `tries` syncs were cut; counts each sync's work.
Status sync_until_done(sync::DeviceStore& d, const sync::SyncRules& rules, const sync::SyncEndpoint& e, int tries,
                       SyncFigures* f, int* rounds = nullptr) {
  Status last;
  for (int i = 0; i < tries; ++i) {
    sync::SyncReport r;
    last = sync::sync_once(d, rules, e, &r);
    add_report(r, f);
    if (rounds) *rounds += static_cast<int>(r.rounds);
    if (last.ok()) return Status();
    ++f->cut_syncs;
  }
  return last;
}

Result<SyncFigures> evaluate_sync(const contract::Spec& spec, const std::string& dir,
                                  const std::map<std::string, std::string>& keys, const std::string& keys_file) {
  SyncFigures f;
  progress("sync: starting PostgreSQL and the sync server");
  KEEL_ASSIGN_OR_RETURN(auto cluster, LocalPostgres::start(dir + "/pg", [](std::string_view line) {
                          progress(std::string(line));
                        }));
  KEEL_ASSIGN_OR_RETURN(auto gateway, serve::Gateway::from_key_file(keys_file));
  std::shared_ptr<serve::Gateway> gate = std::move(gateway);
  sync::SyncServerOptions so;
  so.conninfo = cluster->uri();
  so.authenticate = [gate](std::string_view key) { return gate->authenticate("Bearer " + std::string(key)); };
  KEEL_ASSIGN_OR_RETURN(auto server, sync::SyncServer::create(so));
  KEEL_ASSIGN_OR_RETURN(auto proxy, net::FaultProxy::start("127.0.0.1", 0, "127.0.0.1", server->port()));
  Running running;
  running.thread = std::thread([&] { server->run(); });
  running.stop = [&] { server->stop(); };
  const std::string url = fmt::format("http://127.0.0.1:{}", proxy->port());
  const sync::SyncRules rules = sync_rules_of(spec);
  auto endpoint = [&](const char* device, int64_t timeout_ms = 3000) {
    return sync::SyncEndpoint{url, keys.at(device), timeout_ms};
  };
  KEEL_ASSIGN_OR_RETURN(auto a, sync::DeviceStore::open(dir + "/tablet-a.db", "tablet-a"));
  KEEL_ASSIGN_OR_RETURN(auto b, sync::DeviceStore::open(dir + "/tablet-b.db", "tablet-b"));

  progress("sync: two devices edit the same work orders offline, then sync through resets");
  for (int i = 1; i <= 4; ++i)
    KEEL_RETURN_IF_ERROR(change(*a, "work_orders", fmt::format("W-{}", i),
                                {{"status", "open"}, {"notes", "installed"}, {"assignee", "ana"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*a, "readings", "R-1", {{"value", 1.0}}, &f));
  KEEL_RETURN_IF_ERROR(sync_until_done(*a, rules, endpoint("tablet-a"), 1, &f));
  KEEL_RETURN_IF_ERROR(sync_until_done(*b, rules, endpoint("tablet-b"), 1, &f));
  // Offline on both: the same fields changed differently (one per rule), and one only on b.
  net::FaultSettings half_open;
  half_open.half_open = true;
  proxy->set(half_open);
  KEEL_RETURN_IF_ERROR(change(*a, "work_orders", "W-1", {{"notes", "a: seal replaced"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*a, "work_orders", "W-2", {{"assignee", "ben"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*a, "work_orders", "W-3", {{"status", "closed"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*a, "readings", "R-1", {{"value", 2.5}}, &f));
  KEEL_RETURN_IF_ERROR(change(*b, "work_orders", "W-1", {{"notes", "b: leak at the flange"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*b, "work_orders", "W-2", {{"assignee", "cem"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*b, "work_orders", "W-3", {{"status", "waiting"}}, &f));
  KEEL_RETURN_IF_ERROR(change(*b, "readings", "R-1", {{"value", 3.0}}, &f));
  KEEL_RETURN_IF_ERROR(change(*b, "work_orders", "W-4", {{"notes", "b: checked"}}, &f));
  {
    sync::SyncReport cut;
    if (sync::sync_once(*a, rules, endpoint("tablet-a", 500), &cut).ok())
      return Status::internal("a sync went through a half-open link");
    ++f.cut_syncs;
  }
  proxy->set(net::FaultSettings{});
  KEEL_RETURN_IF_ERROR(sync_until_done(*b, rules, endpoint("tablet-b"), 1, &f));
  // a reconnects through a link that resets half its connections once the server answered.
  net::FaultSettings resets;
  resets.reset_chance = 0.5;
  resets.seed = 3;
  proxy->set(resets);
  KEEL_RETURN_IF_ERROR(sync_until_done(*a, rules, endpoint("tablet-a"), 16, &f));
  f.resets = static_cast<int>(proxy->stats().resets);
  proxy->set(net::FaultSettings{});
  // The technician decides the held `ask` field, keeping their value.
  KEEL_ASSIGN_OR_RETURN(auto held, a->queued());
  for (const auto& m : held) {
    auto st = a->resolve(m.seq, true);
    if (st.ok()) ++f.resolved;
  }
  KEEL_RETURN_IF_ERROR(sync_until_done(*a, rules, endpoint("tablet-a"), 1, &f));
  KEEL_RETURN_IF_ERROR(sync_until_done(*b, rules, endpoint("tablet-b"), 1, &f));

  // Converged: both devices see what the server holds, with nothing left to send.
  KEEL_ASSIGN_OR_RETURN(auto pg, PgClient::connect(cluster->uri()));
  KEEL_ASSIGN_OR_RETURN(auto records, pg->query("SELECT collection, record_id, fields FROM keel_sync_records"));
  f.converged = true;
  for (const auto& row : records.rows) {
    const std::string collection = row[0].value_or(""), record = row[1].value_or("");
    auto server_fields = parse_json(row[2].value_or("{}"));
    for (auto* d : {a.get(), b.get()}) {
      auto mine = d->record(collection, record);
      if (!mine.ok() || !server_fields.ok() || mine->fields != *server_fields || mine->pending != 0) {
        f.converged = false;
        f.divergent.push_back(fmt::format("{} {} on {}", collection, record, d->device()));
      }
    }
  }
  for (auto* d : {a.get(), b.get()}) {
    auto st = d->status();
    if (!st.ok() || st->queued + st->held > 0) f.converged = false;
  }

  progress("sync: time to converge after a partition heals (1, 10, 100 queued commands, 3 runs each)");
  KEEL_ASSIGN_OR_RETURN(auto c, sync::DeviceStore::open(dir + "/tablet-c.db", "tablet-c"));
  int next = 0;
  for (int queued : {1, 10, 100}) {
    std::vector<double> ms;
    int rounds = 0;
    for (int run = 0; run < 3; ++run) {
      proxy->set(half_open);
      for (int i = 0; i < queued; ++i)
        KEEL_RETURN_IF_ERROR(change(*c, "readings", fmt::format("C-{}", next++), {{"value", i}}, &f));
      proxy->set(net::FaultSettings{});
      const auto start = std::chrono::steady_clock::now();
      KEEL_RETURN_IF_ERROR(sync_until_done(*c, rules, endpoint("tablet-c"), 1, &f, &rounds));
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    f.converge_ms[queued] = median(ms);
    f.converge_rounds[queued] = rounds / 3;
  }
  KEEL_ASSIGN_OR_RETURN(auto ledger, pg->query("SELECT count(*), count(DISTINCT (device, seq)) FROM keel_sync_ledger"));
  f.ledger = std::stoll(ledger.rows.at(0).at(0).value_or("0"));
  f.ledger_distinct = std::stoll(ledger.rows.at(0).at(1).value_or("0"));
  return f;
}

// ---- output -------------------------------------------------------------------------------

std::string ms_text(double ms) { return ms < 10 ? fmt::format("{:.1f}", ms) : fmt::format("{:.0f}", ms); }

}  // namespace

int run_field_eval(const FieldEvalOptions& o) {
  auto loaded = contract::load_spec(o.spec);
  if (!loaded.ok()) return fail(loaded.status().message());
  contract::Spec spec = *loaded;
  const std::string asks_path = o.asks.empty() ? spec.base_dir + "/hybrid-field/eval.json" : o.asks;
  auto asks = read_asks(asks_path);
  if (!asks.ok()) return fail(asks.status().message());
  std::string dir = o.work_dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/keel-eval-field-XXXXXX";
    if (!mkdtemp(tmpl)) return fail("cannot make a temporary folder");
    dir = tmpl;
  }
  // A temporary folder goes however the evaluation ends (it holds a PostgreSQL cluster's files).
  struct RemoveAfter {
    std::string path;
    ~RemoveAfter() {
      std::error_code ignored;
      if (!path.empty()) std::filesystem::remove_all(path, ignored);
    }
  } remove_after{o.work_dir.empty() ? dir : std::string()};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // PostgreSQL runs as its own user (LocalPostgres) in dir/pg: it must pass through dir, not list it.
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                        std::filesystem::perms::others_exec, ec);
  // The private cloud runs on loopback here: the device may reach it, and nothing else.
  spec.deployment.egress.none = false;
  spec.deployment.egress.allow.push_back("127.0.0.1");
  contract::restrict_egress_to({&spec});
  int exit_code = 1;
  {
    auto keys = write_keys(dir + "/keys.yaml");
    if (!keys.ok()) return fail(keys.status().message());
    if (Status s = write_file_atomically(dir + "/device.key", keys->at("tablet-a") + "\n"); !s.ok())
      return fail(s.message());
    auto config = field_routing_config(spec, {"http://127.0.0.1:1/v1", dir + "/device.key", 30000});
    if (!config.ok()) return fail(config.status().message());
    if (!config->local || !config->cloud) return fail("the spec needs a local and a remote generate model");

    // The private cloud: keel serve's server with the device's model file, behind the key.
    progress("cloud: loading " + config->local_model_path + " into keel serve on loopback");
    serve::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.model_path = config->local_model_path;
    so.model_id = config->cloud->model_id;
    so.api_keys_path = dir + "/keys.yaml";
    so.handle_signals = false;
    auto server = serve::Server::create(so);
    if (!server.ok()) return fail(server.status().message());
    Running cloud_server;
    cloud_server.thread = std::thread([&] { (void)(*server)->run(); });
    cloud_server.stop = [&] { (*server)->shutdown(); };
    if (Status s = wait_ready(fmt::format("http://127.0.0.1:{}/readyz", (*server)->port()), 120000); !s.ok())
      return fail(s.message());
    auto proxy = net::FaultProxy::start("127.0.0.1", 0, "127.0.0.1", (*server)->port());
    if (!proxy.ok()) return fail(proxy.status().message());
    config->endpoint.base_url = fmt::format("http://127.0.0.1:{}/v1", (*proxy)->port());
    auto assistant = route::FieldAssistant::open(*config, dir + "/tablet-a.asks.db");
    if (!assistant.ok()) return fail(assistant.status().message());
    const std::string consent_class = spec.routing.consent.empty()
                                          ? std::string()
                                          : std::string(contract::enum_name(spec.routing.consent.front()));

    // Phases: each asks every question once under one condition of the link.
    RouteTally tally;
    bool consent_given = false;
    struct Phase {
      std::string name, fault;
      net::FaultSettings link;
      bool queue = false;
      int64_t timeout_ms = 30000;
    };
    net::FaultSettings half_open, refuse, slow;
    half_open.half_open = true;
    refuse.refuse = true;
    slow.delay_ms = 150;  // the probe (two chunks) within its deadline; an answer past 250 ms
    const std::vector<Phase> phases = {
        {"online", "none", {}, false, 30000},
        {"online, consent given", "none", {}, false, 30000},
        {"link half-open", "connectivity-loss", half_open, true, 30000},
        {"cloud refusing", "remote-unavailable", refuse, false, 30000},
        {"cloud too slow", "remote-unavailable", slow, false, 250},
        {"healed", "none", {}, false, 30000},
    };
    for (const auto& phase : phases) {
      progress("routes: " + phase.name);
      if (phase.name == "online, consent given" && !consent_class.empty()) {
        if (Status s = (*assistant)->journal().set_consent(asks->user, consent_class, true); !s.ok())
          return fail(s.message());
        consent_given = true;
      }
      (*proxy)->set(phase.link);
      for (const auto& [task, question] : asks->asks) {
        route::AskInput in;
        in.user = asks->user;
        in.task = task;
        in.question = question;
        in.max_tokens = 32;
        in.queue_if_refused = phase.queue;
        (*assistant)->set_cloud_timeout_ms(phase.timeout_ms);
        auto rec = (*assistant)->ask(in);
        if (!rec.ok()) return fail(rec.status().message());
        audit(spec, *rec, consent_given, &tally);
        tally.add(phase.name, phase.fault, *rec);
      }
      if (phase.name == "healed") {
        auto retried = (*assistant)->retry_queued(32);
        if (!retried.ok()) return fail(retried.status().message());
        for (const auto& r : *retried) {
          audit(spec, r, consent_given, &tally);
          tally.add("healed: queued asks again", "none", r, /*retry=*/true);
        }
      }
    }

    progress("parity: each prompt on both routes, greedy");
    ParityResult parity;
    for (const auto& prompt : asks->parity) {
      route::AskInput in;
      in.user = asks->user;
      in.task = asks->asks.front().first;
      in.question = prompt;
      in.max_tokens = 32;
      in.force = route::Route::local;
      auto local = (*assistant)->ask(in);
      in.force = route::Route::cloud;
      auto cloud = (*assistant)->ask(in);
      if (!local.ok() || !cloud.ok()) return fail("parity: " + (local.ok() ? cloud.status() : local.status()).message());
      ++parity.prompts;
      if (local->status != "answered" || cloud->status != "answered") {
        parity.differences.push_back(fmt::format("'{}': {} / {}", prompt, local->reason, cloud->reason));
        continue;
      }
      parity.identical += local->answer == cloud->answer;
      parity.same_model += local->model_sha256 == cloud->model_sha256;
      parity.same_version += local->keel_version == cloud->keel_version;
      if (local->answer != cloud->answer)
        parity.differences.push_back(fmt::format("'{}': local '{}' / cloud '{}'", prompt, local->answer, cloud->answer));
    }

    auto sync_figures = evaluate_sync(spec, dir, *keys, dir + "/keys.yaml");
    if (!sync_figures.ok()) return fail("sync: " + sync_figures.status().to_string());
    const SyncFigures& sf = *sync_figures;

    // Latency per route.
    std::map<std::string, std::vector<double>> ms;
    for (const auto& r : tally.answered) ms[r.route].push_back(r.ms);
    const int64_t lost = sf.made - sf.dropped - sf.ledger;  // neither dropped by a rule nor in the ledger
    const bool sync_ok = sf.converged && sf.ledger == sf.ledger_distinct && lost == 0;
    const bool ok = tally.violations == 0 && parity.identical == parity.prompts && parity.prompts > 0 && sync_ok;

    if (o.json) {
      Json rows = Json::array();
      for (const auto& r : tally.rows)
        rows.push_back({{"phase", r.phase}, {"fault", r.fault}, {"task", r.task}, {"class", r.data_class},
                        {"outcome", r.outcome}, {"count", r.count}, {"reason", r.reason}});
      Json latency = Json::object();
      for (const auto& [route, v] : ms)
        latency[route] = {{"answers", v.size()}, {"p50_ms", percentile(v, 0.5)}, {"p95_ms", percentile(v, 0.95)}};
      Json converge = Json::object();
      for (const auto& [n, t] : sf.converge_ms)
        converge[std::to_string(n)] = {{"median_ms", t}, {"rounds", sf.converge_rounds.at(n)}};
      Json out = {
          {"spec", spec.file},
          {"routes", rows},
          {"asks", tally.asks},
          {"fallbacks", tally.fallbacks},
          {"offline", {{"asks", tally.offline}, {"answered", tally.offline_answered},
                       {"success_ratio", tally.offline ? double(tally.offline_answered) / tally.offline : 1.0}}},
          {"latency", latency},
          {"parity", {{"prompts", parity.prompts}, {"identical", parity.identical}, {"same_model", parity.same_model},
                      {"same_version", parity.same_version}, {"differences", parity.differences}}},
          {"violations", {{"count", tally.violations}, {"details", tally.violation_details}}},
          {"sync", {{"conflicts_by_rule", sf.conflicts_by_rule}, {"held_for_user", sf.held}, {"resolved", sf.resolved},
                    {"dropped", sf.dropped}, {"rebased", sf.rebased}, {"applied", sf.applied},
                    {"duplicates_answered", sf.duplicates}, {"recovered_from_pull", sf.recovered},
                    {"mutations_made", sf.made}, {"lost", lost}, {"ledger_rows", sf.ledger}, {"ledger_distinct", sf.ledger_distinct},
                    {"syncs_cut", sf.cut_syncs}, {"resets_injected", sf.resets}, {"converged", sf.converged},
                    {"divergent", sf.divergent}, {"converge_after_partition", converge}}},
          {"ok", ok}};
      std::printf("%s\n", dump_json(out, 2).c_str());
    } else {
      std::printf("hybrid-field evaluation: %s\n\nroutes, by phase (each phase asks all %zu questions)\n", spec.file.c_str(),
                  asks->asks.size());
      TextTable t({"phase", "fault", "task", "class", "outcome", "n", "reason"}, 70);
      for (const auto& r : tally.rows)
        t.add_row({r.phase, r.fault, r.task, r.data_class, r.outcome, std::to_string(r.count), r.reason});
      std::printf("%s", t.render().c_str());
      std::printf("\n%d asks; %d answered by a fallback route; offline: %d asks, %d answered (%.0f%%)\n", tally.asks,
                  tally.fallbacks, tally.offline, tally.offline_answered,
                  tally.offline ? 100.0 * tally.offline_answered / tally.offline : 100.0);
      std::printf("audit: %d answer(s) by a route the policy forbids, of %zu answered\n", tally.violations,
                  tally.answered.size());
      for (const auto& v : tally.violation_details) std::printf("  VIOLATION %s\n", v.c_str());
      TextTable lt({"route", "answers", "p50 ms", "p95 ms"});
      for (const auto& [route, v] : ms)
        lt.add_row({route, std::to_string(v.size()), ms_text(percentile(v, 0.5)), ms_text(percentile(v, 0.95))});
      std::printf("\nlatency per route (answer time, this machine)\n%s", lt.render().c_str());
      std::printf("\nparity: %d/%d prompts answered identically on both routes; model sha256 same %d/%d, keel version "
                  "same %d/%d\n",
                  parity.identical, parity.prompts, parity.same_model, parity.prompts, parity.same_version,
                  parity.prompts);
      for (const auto& d : parity.differences) std::printf("  differs: %s\n", d.c_str());
      std::string rules;
      for (const auto& [rule, n] : sf.conflicts_by_rule) rules += fmt::format("{}{} {}", rules.empty() ? "" : ", ", rule, n);
      std::printf("\nsync: conflicts resolved by rule: %s; held for the technician %d (resolved %d); dropped %d, "
                  "rebased %d\n",
                  rules.empty() ? "none" : rules.c_str(), sf.held, sf.resolved, sf.dropped, sf.rebased);
      std::printf("sync: %d sync(s) cut (half-open link, %d resets injected); duplicates prevented: %lld answered by the "
                  "ledger, %lld found applied in the change log\n",
                  sf.cut_syncs, sf.resets, static_cast<long long>(sf.duplicates), static_cast<long long>(sf.recovered));
      std::printf("sync: %lld mutations made, %d dropped by a rule (nothing left to change), %lld in the ledger "
                  "(%lld distinct), %lld lost; devices converged with the server: %s\n",
                  static_cast<long long>(sf.made), sf.dropped, static_cast<long long>(sf.ledger),
                  static_cast<long long>(sf.ledger_distinct), static_cast<long long>(lost), sf.converged ? "yes" : "NO");
      for (const auto& d : sf.divergent) std::printf("  diverged: %s\n", d.c_str());
      TextTable ct({"queued", "converge ms (median of 3)", "per command ms", "rounds"});
      for (const auto& [n, took] : sf.converge_ms)
        ct.add_row({std::to_string(n), ms_text(took), fmt::format("{:.2f}", took / n),
                    std::to_string(sf.converge_rounds.at(n))});
      std::printf("\ntime to converge after a partition heals (loopback)\n%s", ct.render().c_str());
      std::printf("\n%s\n", ok ? "PASS" : "FAIL");
    }
    exit_code = ok ? 0 : 1;
  }
  return exit_code;
}

}  // namespace keel::app
