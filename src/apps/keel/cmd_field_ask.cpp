// keel field ask|consent|asks|metrics: the field device's routed tasks (route/field_assistant.h).
//   keel field ask QUESTION --task TYPE --store FILE [--spec SPEC] [--user U] [--cloud-url URL]
//                  [--key-file FILE] [--route local|cloud] [--queue] [--json]
//     routed by the spec's policy; exit 0 answered, 3 queued (refused now, kept to ask again),
//     4 refused (fail closed: no permitted route), 1 failed (a permitted route failed and no
//     other may take it).
//   keel field ask --retry-queued --store FILE ...: asks each queued task again.
//   keel field consent CLASS (--allow | --deny) --store FILE [--user U]
//   keel field asks --store FILE [--limit N] [--json]: the journal of decisions.
//   keel field metrics --store FILE: Prometheus text of routes, fallbacks, offline work, sync.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "apps/keel/field_setup.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/metrics.h"
#include "core/text_table.h"
#include "route/field_assistant.h"
#include "sync/device_store.h"

namespace keel::app {
namespace {

constexpr int kExitQueued = 3;
constexpr int kExitRefused = 4;

struct AskOptions {
  std::string spec, store, user = "technician", task, question, cloud_url, key_file, route, data_class;
  int64_t max_tokens = 64, timeout_ms = 30000, limit = 20;
  bool queue = false, retry = false, json = false, allow = false, deny = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel field: %s\n", message.c_str());
  return 1;
}

Result<std::unique_ptr<route::FieldAssistant>> open_assistant(const AskOptions& o, contract::Spec* spec_out) {
  KEEL_ASSIGN_OR_RETURN(contract::Spec spec, contract::load_spec(o.spec));
  contract::restrict_egress_to({&spec});
  KEEL_ASSIGN_OR_RETURN(auto config, field_routing_config(spec, {o.cloud_url, o.key_file, o.timeout_ms}));
  if (spec_out) *spec_out = std::move(spec);
  return route::FieldAssistant::open(std::move(config), o.store);
}

void print_record(const route::AskRecord& r) {
  if (r.status == "answered") {
    std::printf("%s\n", r.answer.c_str());
    std::printf("route: %s (%s, sha256 %s, keel %s), %.0f ms%s\n", r.route.c_str(), r.model_id.c_str(),
                r.model_sha256.empty() ? "not reported" : r.model_sha256.substr(0, 12).c_str(),
                r.keel_version.empty() ? "?" : r.keel_version.c_str(), r.ms, r.fallback ? " (fallback)" : "");
    if (!r.skew.empty()) std::printf("version skew: %s\n", r.skew.c_str());
  } else {
    std::printf("%s: %s %s task (%s data)\n", r.status.c_str(), r.status == "failed" ? "could not answer the" : "no route for the",
                r.task.c_str(), r.data_class.c_str());
  }
  std::printf("reason: %s\n", r.reason.c_str());
  for (const auto& why : r.rejected) std::printf("  not taken: %s\n", why.get<std::string>().c_str());
  if (!r.error.empty()) std::printf("error: %s\n", r.error.c_str());
}

int exit_code_of(const route::AskRecord& r) {
  if (r.status == "answered") return 0;
  if (r.status == "queued") return kExitQueued;
  if (r.status == "refused") return kExitRefused;
  return 1;
}

int run_ask(const AskOptions& o) {
  auto assistant = open_assistant(o, nullptr);
  if (!assistant.ok()) return fail(assistant.status().message());
  if (o.retry) {
    auto done = (*assistant)->retry_queued(o.max_tokens);
    if (!done.ok()) return fail(done.status().message());
    Json list = Json::array();
    int64_t still = 0, failed = 0;
    for (const auto& r : *done) {
      list.push_back(r.to_json());
      still += r.status == "queued";
      failed += r.status == "failed";
      if (!o.json) print_record(r);
    }
    if (o.json) std::printf("%s\n", dump_json({{"asked", done->size()}, {"still_queued", still}, {"asks", list}}, 2).c_str());
    if (!o.json) std::printf("%zu queued ask(s) asked again; %lld still queued\n", done->size(), static_cast<long long>(still));
    if (failed > 0) return 1;
    return still > 0 ? kExitQueued : 0;
  }
  if (o.question.empty()) return fail("give the question (or --retry-queued)");
  if (o.task.empty()) return fail("--task is required: the spec's routing.tasks says what each type may use");
  route::AskInput in;
  in.user = o.user;
  in.task = o.task;
  in.question = o.question;
  in.max_tokens = o.max_tokens;
  in.queue_if_refused = o.queue;
  if (o.route == "local") in.force = route::Route::local;
  if (o.route == "cloud") in.force = route::Route::cloud;
  auto rec = (*assistant)->ask(in);
  if (!rec.ok()) return fail(rec.status().message());
  if (o.json) {
    std::printf("%s\n", dump_json(rec->to_json(), 2).c_str());
  } else {
    print_record(*rec);
  }
  return exit_code_of(*rec);
}

int run_consent(const AskOptions& o) {
  if (o.allow == o.deny) return fail("give --allow or --deny");
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  const auto& classes = spec->data.classes;
  if (std::none_of(classes.begin(), classes.end(), [&](contract::DataClass c) { return contract::enum_name(c) == o.data_class; }))
    return fail(fmt::format("'{}' is not one of the spec's data classes", o.data_class));
  auto journal = route::RouteJournal::open(o.store);
  if (!journal.ok()) return fail(journal.status().message());
  if (Status s = (*journal)->set_consent(o.user, o.data_class, o.allow); !s.ok()) return fail(s.message());
  std::printf("%s: the private cloud %s read %s data\n", o.user.c_str(), o.allow ? "may" : "may not",
              o.data_class.c_str());
  return 0;
}

int run_asks(const AskOptions& o) {
  auto journal = route::RouteJournal::open(o.store);
  if (!journal.ok()) return fail(journal.status().message());
  auto rows = (*journal)->recent(o.limit);
  if (!rows.ok()) return fail(rows.status().message());
  if (o.json) {
    Json list = Json::array();
    for (const auto& r : *rows) list.push_back(r.to_json());
    std::printf("%s\n", dump_json(list, 2).c_str());
    return 0;
  }
  TextTable t({"id", "task", "class", "status", "route", "model sha256", "ms", "reason"}, 80);
  for (const auto& r : *rows)
    t.add_row({std::to_string(r.id), r.task, r.data_class, r.status, r.route.empty() ? "-" : r.route,
               r.model_sha256.substr(0, 12), fmt::format("{:.0f}", r.ms), r.reason});
  std::printf("%s", t.render("").c_str());
  return 0;
}

int run_metrics(const AskOptions& o) {
  auto journal = route::RouteJournal::open(o.store);
  if (!journal.ok()) return fail(journal.status().message());
  auto c = (*journal)->counts();
  if (!c.ok()) return fail(c.status().message());
  auto store = sync::DeviceStore::open(o.store, "");
  std::map<std::string, int64_t> totals;
  if (store.ok()) {
    auto t = (*store)->totals();
    if (t.ok()) totals = *t;
  }
  MetricsRegistry m;
  auto& decisions = m.counter("keel_route_decisions_total", "Field asks by outcome and route", {"outcome", "route"});
  auto& fallbacks = m.counter("keel_route_fallbacks_total", "Asks answered by another permitted route after the first failed");
  auto& offline = m.counter("keel_offline_requests_total", "Asks made while the private cloud was unreachable");
  auto& ratio = m.gauge("keel_offline_success_ratio", "Share of offline asks that were answered");
  auto& conflicts = m.counter("keel_sync_conflicts_total", "Fields both sides changed, by how they were resolved", {"resolution"});
  auto& duplicates = m.counter("keel_sync_duplicates_prevented_total", "Mutations the server had already applied");
  auto& seconds = m.histogram("keel_request_seconds", "Answer latency per route",
                              {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, {"route"});
  auto& parity = m.gauge("keel_model_version_parity", "Share of cloud answers made with the device's model file and Keel version");
  decisions.labels({"refused", ""}).inc(static_cast<double>(c->refused));
  decisions.labels({"queued", ""}).inc(static_cast<double>(c->queued));
  decisions.labels({"failed", ""}).inc(static_cast<double>(c->failed));
  for (const auto& [route, n] : c->by_route) decisions.labels({"answered", route}).inc(static_cast<double>(n));
  for (const auto& [route, list] : c->ms_by_route)
    for (double ms : list) seconds.labels({route}).observe(ms / 1000);
  fallbacks.get().inc(static_cast<double>(c->fallbacks));
  offline.get().inc(static_cast<double>(c->offline));
  ratio.get().set(c->offline ? static_cast<double>(c->offline_answered) / static_cast<double>(c->offline) : 1.0);
  conflicts.labels({"rules"}).inc(static_cast<double>(totals["conflicts_resolved"]));
  conflicts.labels({"push"}).inc(static_cast<double>(totals["push_conflicts"]));
  duplicates.get().inc(static_cast<double>(totals["duplicates_prevented"]));
  parity.get().set(c->cloud_answers ? static_cast<double>(c->cloud_answers - c->skewed) / static_cast<double>(c->cloud_answers)
                                    : 1.0);
  std::printf("%s", m.render().c_str());
  return 0;
}

}  // namespace

void add_field_route_commands(CLI::App& field, int& exit_code) {
  auto o = std::make_shared<AskOptions>();
  auto spec_default = [o] {
    if (o->spec.empty()) o->spec = bundled_example("examples/hybrid-field.yaml");
  };
  CLI::App* a = field.add_subcommand("ask", "Answer a field task on the route the spec's policy permits");
  a->add_option("question", o->question, "the question");
  a->add_option("--task", o->task, "the task type (the spec's routing.tasks)");
  a->add_option("--store", o->store, "the device's store (SQLite)")->required();
  a->add_option("--spec", o->spec, "hybrid-field spec (default: examples/hybrid-field.yaml)");
  a->add_option("--user", o->user, "who asks (consent is theirs)")->capture_default_str();
  a->add_option("--cloud-url", o->cloud_url, "the private cloud's OpenAI base URL (default: the spec's remote model url)");
  a->add_option("--key-file", o->key_file, "file holding this device's API key (without it: no cloud route)");
  a->add_option("--route", o->route, "only this route, if the policy permits it (parity checks)")
      ->check(CLI::IsMember({"local", "cloud"}));
  a->add_option("--max-tokens", o->max_tokens, "most tokens in the answer")->capture_default_str()->check(CLI::Range(1, 4096));
  a->add_option("--timeout-ms", o->timeout_ms, "the cloud request's deadline")->capture_default_str()->check(CLI::Range(100, 600000));
  a->add_flag("--queue", o->queue, "when no route is permitted now, keep the task to ask again (exit 3)");
  a->add_flag("--retry-queued", o->retry, "ask every queued task again");
  a->add_flag("--json", o->json, "print the journal record as JSON");
  a->callback([o, spec_default, &exit_code] {
    spec_default();
    exit_code = run_ask(*o);
  });

  CLI::App* c = field.add_subcommand("consent", "Record whether the private cloud may read a data class");
  c->add_option("class", o->data_class, "the data class (e.g. confidential)")->required();
  c->add_option("--store", o->store, "the device's store (SQLite)")->required();
  c->add_option("--spec", o->spec, "hybrid-field spec (default: examples/hybrid-field.yaml)");
  c->add_option("--user", o->user, "whose consent")->capture_default_str();
  c->add_flag("--allow", o->allow, "the cloud may read it");
  c->add_flag("--deny", o->deny, "it may not");
  c->callback([o, spec_default, &exit_code] {
    spec_default();
    exit_code = run_consent(*o);
  });

  CLI::App* l = field.add_subcommand("asks", "The journal of routed asks: route, reason, model, latency");
  l->add_option("--store", o->store, "the device's store (SQLite)")->required();
  l->add_option("--limit", o->limit, "the latest N")->capture_default_str();
  l->add_flag("--json", o->json, "print JSON");
  l->callback([o, &exit_code] { exit_code = run_asks(*o); });

  CLI::App* m = field.add_subcommand("metrics", "Prometheus text of the device's routes, offline work and sync");
  m->add_option("--store", o->store, "the device's store (SQLite)")->required();
  m->callback([o, &exit_code] { exit_code = run_metrics(*o); });
}

}  // namespace keel::app
