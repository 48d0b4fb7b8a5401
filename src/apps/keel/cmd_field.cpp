// keel field: the field device's records, offline first (sync/device_store.h), and their sync
// with the private cloud (sync/sync_client.h).
//   keel field do COLLECTION RECORD FIELD=VALUE... --store FILE [--device ID]
//     a command on a record: applied to the device's copy and queued, durable before it returns.
//   keel field get COLLECTION RECORD --store FILE [--json]
//   keel field sync --store FILE --url URL --key-file FILE [--spec SPEC] [--timeout-ms N] [--json]
//     pull, reconcile by the spec's sync rules, push; exit 0 all sent, 3 some wait (held for a
//     decision, or left by a cut link), 1 failed (what was done is kept).
//   keel field status --store FILE [--json]
//   keel field resolve SEQ (--keep | --drop) --store FILE
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "apps/keel/field_setup.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/json.h"
#include "sync/device_store.h"
#include "sync/sync_client.h"

namespace keel::app {
namespace {

constexpr int kExitWaiting = 3;

struct FieldOptions {
  std::string spec, store, device, collection, record, url, key_file;
  std::vector<std::string> assignments;
  int64_t seq = 0, timeout_ms = 5000;
  bool keep = false, drop = false, json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel field: %s\n", message.c_str());
  return 1;
}

// "reading=7.5" -> {"reading": 7.5}; a value that is not a JSON number, boolean or null is text.
Result<Json> parse_assignments(const std::vector<std::string>& assignments) {
  Json set = Json::object();
  for (const auto& a : assignments) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) return Status::invalid_argument(fmt::format("'{}': expected FIELD=VALUE", a));
    const std::string value = a.substr(eq + 1);
    auto parsed = parse_json(value);
    set[a.substr(0, eq)] = parsed.ok() && (parsed->is_number() || parsed->is_boolean() || parsed->is_null())
                               ? *parsed
                               : Json(value);
  }
  return set;
}

int run_do(const FieldOptions& o) {
  auto store = sync::DeviceStore::open(o.store, o.device);
  if (!store.ok()) return fail(store.status().message());
  auto set = parse_assignments(o.assignments);
  if (!set.ok()) return fail(set.status().message());
  auto m = (*store)->change(o.collection, o.record, *set);
  if (!m.ok()) return fail(m.status().message());
  auto status = (*store)->status();
  std::printf("queued %s: %s %s %s (made on version %lld; %lld waiting to sync)\n", m->id().c_str(),
              o.collection.c_str(), o.record.c_str(), m->set.dump().c_str(), static_cast<long long>(m->base_version),
              static_cast<long long>(status.ok() ? status->queued : 0));
  return 0;
}

int run_get(const FieldOptions& o) {
  auto store = sync::DeviceStore::open(o.store, "");
  if (!store.ok()) return fail(store.status().message());
  auto r = (*store)->record(o.collection, o.record);
  if (!r.ok()) return fail(r.status().message());
  Json out = {{"collection", o.collection}, {"record", o.record},         {"version", r->version},
              {"fields", r->fields},        {"server_fields", r->server_fields}, {"pending", r->pending}};
  std::printf("%s\n", o.json ? dump_json(out, 2).c_str()
                             : fmt::format("{} {} (server version {}, {} change(s) not yet synced): {}", o.collection,
                                           o.record, r->version, r->pending, r->fields.dump())
                                   .c_str());
  return 0;
}

Json report_json(const sync::SyncReport& r) {
  Json conflicts = Json::array();
  for (const auto& c : r.reconcile.conflicts)
    conflicts.push_back({{"field", c.field}, {"rule", std::string(sync::field_rule_name(c.rule))}, {"server", c.server},
                         {"device", c.device}, {"result", c.result}});
  return {{"pulled", r.pulled},     {"pushed", r.pushed},   {"applied", r.applied},
          {"duplicates", r.duplicates}, {"recovered", r.recovered}, {"push_conflicts", r.conflicts}, {"rounds", r.rounds},
          {"rebased", r.reconcile.rebased}, {"dropped", r.reconcile.dropped}, {"held", r.reconcile.held},
          {"conflicts", conflicts}, {"left", r.left}, {"ms", r.ms}};
}

int run_sync(const FieldOptions& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  contract::restrict_egress_to({&*spec});
  auto store = sync::DeviceStore::open(o.store, "");
  if (!store.ok()) return fail(store.status().message());
  auto key = read_device_key(o.key_file);
  if (!key.ok()) return fail(key.status().message());
  sync::SyncReport report;
  Status s = sync::sync_once(**store, sync_rules_of(*spec), {o.url, *key, o.timeout_ms}, &report);
  // What this sync did, added to the device's totals (keel field metrics) even when it was cut.
  Status counted = (*store)->add_totals({{"syncs", 1},
                                         {"syncs_failed", s.ok() ? 0 : 1},
                                         {"applied", report.applied},
                                         {"duplicates_prevented", report.duplicates + report.recovered},
                                         {"conflicts_resolved", static_cast<int64_t>(report.reconcile.conflicts.size())},
                                         {"push_conflicts", report.conflicts},
                                         {"held", report.reconcile.held}});
  if (!counted.ok()) std::fprintf(stderr, "keel field: the sync's totals were not recorded: %s\n", counted.message().c_str());
  if (o.json) {
    Json out = report_json(report);
    out["status"] = s.ok() ? "ok" : s.to_string();
    std::printf("%s\n", dump_json(out, 2).c_str());
  } else {
    std::printf("pulled %lld change(s), pushed %lld (applied %lld, already applied %lld), %zu conflict(s) resolved by "
                "the rules, %lld held for you, %lld left to sync, %.0f ms\n",
                static_cast<long long>(report.pulled), static_cast<long long>(report.pushed),
                static_cast<long long>(report.applied), static_cast<long long>(report.duplicates),
                report.reconcile.conflicts.size(), static_cast<long long>(report.reconcile.held),
                static_cast<long long>(report.left), report.ms);
    for (const auto& c : report.reconcile.conflicts)
      std::printf("  %s: server %s, device %s -> %s (%s)\n", c.field.c_str(), c.server.dump().c_str(),
                  c.device.dump().c_str(), c.result.is_null() ? "the server's" : c.result.dump().c_str(),
                  std::string(sync::field_rule_name(c.rule)).c_str());
  }
  if (!s.ok()) return fail(s.to_string());
  return report.left > 0 ? kExitWaiting : 0;
}

int run_status(const FieldOptions& o) {
  auto store = sync::DeviceStore::open(o.store, "");
  if (!store.ok()) return fail(store.status().message());
  auto st = (*store)->status();
  if (!st.ok()) return fail(st.status().message());
  auto queued = (*store)->queued();
  if (!queued.ok()) return fail(queued.status().message());
  Json list = Json::array();
  for (const auto& m : *queued) list.push_back(m.to_json());
  if (o.json) {
    std::printf("%s\n", dump_json({{"device", st->device}, {"queued", st->queued}, {"held", st->held},
                                   {"records", st->records}, {"cursor", st->cursor}, {"mutations", list}},
                                  2)
                            .c_str());
    return 0;
  }
  std::printf("device %s: %lld record(s), %lld change(s) waiting to sync, %lld held for a decision, change log at %lld\n",
              st->device.c_str(), static_cast<long long>(st->records), static_cast<long long>(st->queued),
              static_cast<long long>(st->held), static_cast<long long>(st->cursor));
  for (const auto& m : *queued)
    std::printf("  %s %s %s %s (on version %lld)\n", m.id().c_str(), m.collection.c_str(), m.record.c_str(),
                m.set.dump().c_str(), static_cast<long long>(m.base_version));
  return 0;
}

int run_resolve(const FieldOptions& o) {
  if (o.keep == o.drop) return fail("give --keep (the device's values) or --drop (the server's)");
  auto store = sync::DeviceStore::open(o.store, "");
  if (!store.ok()) return fail(store.status().message());
  if (Status s = (*store)->resolve(o.seq, o.keep); !s.ok()) return fail(s.message());
  std::printf("%s:%lld %s\n", (*store)->device().c_str(), static_cast<long long>(o.seq),
              o.keep ? "keeps the device's values; it is sent at the next sync" : "dropped: the server's values stand");
  return 0;
}

}  // namespace

void add_field_command(CLI::App& root, int& exit_code) {
  CLI::App* field = root.add_subcommand("field", "The field device: records offline first, synced by version");
  field->require_subcommand(1);
  auto o = std::make_shared<FieldOptions>();
  auto store_option = [&](CLI::App* cmd) {
    cmd->add_option("--store", o->store, "the device's store (SQLite)")->required();
  };
  CLI::App* d = field->add_subcommand("do", "Change a record: applied here and queued for the cloud");
  d->add_option("collection", o->collection, "the collection (e.g. work_orders)")->required();
  d->add_option("record", o->record, "the record's id")->required();
  d->add_option("fields", o->assignments, "FIELD=VALUE ...")->required();
  store_option(d);
  d->add_option("--device", o->device, "this device's id (needed when the store is made)");
  d->callback([o, &exit_code] { exit_code = run_do(*o); });

  CLI::App* g = field->add_subcommand("get", "Show a record as this device sees it");
  g->add_option("collection", o->collection)->required();
  g->add_option("record", o->record)->required();
  store_option(g);
  g->add_flag("--json", o->json, "print JSON");
  g->callback([o, &exit_code] { exit_code = run_get(*o); });

  CLI::App* s = field->add_subcommand("sync", "Pull, reconcile by the spec's rules, then push");
  store_option(s);
  s->add_option("--spec", o->spec, "hybrid-field spec, for its sync rules (default: examples/hybrid-field.yaml)");
  s->add_option("--url", o->url, "the private cloud's sync endpoint, e.g. http://10.0.0.1:8095")->required();
  s->add_option("--key-file", o->key_file, "file holding this device's API key")->required();
  s->add_option("--timeout-ms", o->timeout_ms, "each request's deadline")->capture_default_str()->check(CLI::Range(100, 600000));
  s->add_flag("--json", o->json, "print the report as JSON");
  s->callback([o, &exit_code] {
    if (o->spec.empty()) o->spec = bundled_example("examples/hybrid-field.yaml");
    exit_code = run_sync(*o);
  });

  CLI::App* st = field->add_subcommand("status", "What waits to sync");
  store_option(st);
  st->add_flag("--json", o->json, "print JSON");
  st->callback([o, &exit_code] { exit_code = run_status(*o); });

  CLI::App* r = field->add_subcommand("resolve", "Decide a change held by an `ask` rule");
  r->add_option("seq", o->seq, "the held change's sequence number")->required();
  store_option(r);
  r->add_flag("--keep", o->keep, "send the device's values");
  r->add_flag("--drop", o->drop, "drop them: the server's values stand");
  r->callback([o, &exit_code] { exit_code = run_resolve(*o); });

  add_field_route_commands(*field, exit_code);
}

}  // namespace keel::app
