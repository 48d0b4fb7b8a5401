// keel edge update: signed, staged updates of a device's prepared program (edge/program_slots.h).
//   keel edge update publish PROGRAM.kprog --key KEY.json --model-id ID --version N
//        [--device-class C]... [--rollout PERCENT] [--expires-in-days D] [--min-accuracy X]
//        [--max-p99-ms MS] -o DIR
//   keel edge update install DIR/update.json --slots SLOTS --device DEVICE.yaml --canary SET.kimg
//        (--spec SPEC | --trust ed25519:HEX) [--device-id ID] [--json]
//   keel edge update status --slots SLOTS [--json]
//   keel edge update rollback --slots SLOTS [--reason TEXT]
// install exits 0 when the update is installed (or already was), 3 when it was not selected for
// this device yet, 4 when it was refused (signature, expiry, class, downgrade, rejected before)
// and 5 when its health check failed and the last good program is back; 1 on bad input.
// The device trusts only edge.update_signer from the spec (or --trust); its own latency bound is
// the spec's slo.latency_ms.p99.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/key_file.h"
#include "core/text_table.h"
#include "edge/canary_check.h"
#include "edge/device_profile.h"
#include "edge/model_manifest.h"
#include "edge/program_slots.h"

namespace keel::app {
namespace {

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel edge update: %s\n", message.c_str());
  return code;
}

struct PublishFlags {
  std::string program, key, model_id, out;
  int64_t version = 0;
  std::vector<std::string> device_classes;
  int rollout = 100;
  double expires_in_days = 30, min_accuracy = 0.9, max_p99_ms = 0;
};

int run_publish(const PublishFlags& f) {
  auto key = read_ed25519_key_file(f.key, edge::kModelSigningKeyFile);
  if (!key.ok()) return fail(key.status().message());
  edge::UpdateTerms terms;
  terms.model_id = f.model_id;
  terms.version = f.version;
  terms.device_classes = f.device_classes;
  terms.rollout_percent = f.rollout;
  terms.expires_at = static_cast<int64_t>(std::time(nullptr)) +
                     static_cast<int64_t>(f.expires_in_days * 86400);
  terms.min_accuracy = f.min_accuracy;
  terms.max_p99_ms = f.max_p99_ms;
  auto published = edge::publish_update(f.program, terms, *key, f.out);
  if (!published.ok()) return fail(published.status().message());
  const auto& u = published->update;
  std::printf("published %s v%lld for [%s] (%d%% rollout, expires at %lld): %s, program %s\n",
              u.terms.model_id.c_str(), static_cast<long long>(u.terms.version),
              fmt::format("{}", fmt::join(u.terms.device_classes, ", ")).c_str(),
              u.terms.rollout_percent, static_cast<long long>(u.terms.expires_at),
              published->manifest_path.c_str(), u.program_path.c_str());
  return 0;
}

struct InstallFlags {
  std::string update, slots, device, canary, spec, trust, device_id;
  bool json = false;
};

Result<std::string> machine_id() {
  auto id = read_file("/etc/machine-id", 4096);
  if (!id.ok() || id->empty())
    return Status::failed_precondition("no /etc/machine-id: give --device-id");
  std::string s = *id;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int run_install(const InstallFlags& f) {
  // Updates reach the device as files: installing one needs no socket at all.
  if (Status guard = contract::install_egress_guard(contract::EgressGuardProfile::no_sockets); !guard.ok())
    return fail("cannot install the egress guard: " + guard.message());
  Ed25519PublicKey trusted{};
  double device_p99 = 0;
  if (!f.spec.empty()) {
    auto spec = contract::load_spec(f.spec);
    if (!spec.ok()) return fail(spec.status().message());
    if (!spec->edge.update_signer)
      return fail(f.spec + ": edge.update_signer is not set; the device trusts no update");
    trusted = *spec->edge.update_signer;
    if (spec->slo.latency_ms && spec->slo.latency_ms->p99) device_p99 = *spec->slo.latency_ms->p99;
  }
  if (!f.trust.empty()) {
    auto key = parse_ed25519_public_key(f.trust);
    if (!key.ok()) return fail("--trust: " + key.status().message());
    trusted = *key;
  }
  if (f.spec.empty() && f.trust.empty()) return fail("give --spec (edge.update_signer) or --trust");
  auto device = edge::load_device_profile(f.device);
  if (!device.ok()) return fail(device.status().message());
  edge::DeviceIdentity identity{f.device_id, device->device_class};
  if (identity.id.empty()) {
    auto id = machine_id();
    if (!id.ok()) return fail(id.status().message());
    identity.id = *id;
  }
  auto canary = edge::load_image_set(f.canary);
  if (!canary.ok()) return fail(canary.status().message());
  auto slots = edge::ProgramSlots::open(f.slots);
  if (!slots.ok()) return fail(slots.status().message());
  for (const auto& r : slots->recoveries()) std::fprintf(stderr, "keel edge update: recovered: %s\n", r.c_str());

  auto verified = edge::verify_update(f.update, trusted);
  edge::InstallOutcome outcome;
  if (!verified.ok()) {
    outcome.outcome = "refused";
    outcome.reason = std::string(verified.status().message());
    // A refusal before anything in the update is believed is still an outcome the device counts.
    if (Status s = slots->record_refused(f.update, outcome.reason); !s.ok()) return fail(s.message());
  } else {
    auto installed = slots->install(*verified, identity, static_cast<int64_t>(std::time(nullptr)),
                                    edge::canary_health_check(std::move(*canary), {device_p99, 3}));
    if (!installed.ok()) return fail(installed.status().message());
    outcome = std::move(*installed);
  }
  if (f.json) {
    Json j{{"outcome", outcome.outcome}, {"reason", outcome.reason}, {"version", outcome.version},
           {"slot", outcome.slot}, {"slots", slots->status_json()}};
    if (outcome.health)
      j["health"] = {{"passed", outcome.health->passed}, {"accuracy", outcome.health->accuracy},
                     {"p50_ms", outcome.health->p50_ms}, {"p99_ms", outcome.health->p99_ms},
                     {"images", outcome.health->images}};
    std::printf("%s\n", dump_json(j, 2).c_str());
  } else {
    std::printf("%s: %s\n", outcome.outcome.c_str(), outcome.reason.c_str());
    if (auto path = slots->active_program_path())
      std::printf("active: slot %s (%s)\n", slots->active().c_str(), path->c_str());
  }
  if (outcome.outcome == "installed" || outcome.outcome == "already-installed") return 0;
  if (outcome.outcome == "not-selected") return 3;
  if (outcome.outcome == "rolled-back") return 5;
  return 4;
}

int run_status(const std::string& dir, bool json) {
  auto slots = edge::ProgramSlots::open(dir);
  if (!slots.ok()) return fail(slots.status().message());
  for (const auto& r : slots->recoveries()) std::fprintf(stderr, "keel edge update: recovered: %s\n", r.c_str());
  auto counts = slots->outcome_counts();
  if (!counts.ok()) return fail(counts.status().message());
  if (json) {
    Json j = slots->status_json();
    j["outcomes"] = *counts;
    std::printf("%s\n", dump_json(j, 2).c_str());
    return 0;
  }
  TextTable t({"slot", "state", "model", "version", "program sha256", "note"});
  for (const auto& [name, r] : slots->slots()) {
    t.add_row({name + (name == slots->active() ? " (active)" : ""), r.state, r.model_id,
               r.version ? std::to_string(r.version) : "", r.program_sha256.substr(0, 16), r.reason});
  }
  std::printf("%s", t.render().c_str());
  std::string totals;
  for (const auto& [k, v] : *counts) totals += fmt::format("{}{} {}", totals.empty() ? "" : ", ", k, v);
  std::printf("updates: %s\n", totals.empty() ? "none yet" : totals.c_str());
  return 0;
}

}  // namespace

void add_edge_update_command(CLI::App& edge, int& exit_code) {
  CLI::App* update = edge.add_subcommand("update", "Signed, staged A/B updates of a device's program");
  update->require_subcommand(1);

  auto p = std::make_shared<PublishFlags>();
  CLI::App* publish = update->add_subcommand("publish", "Sign a prepared program as an update");
  publish->add_option("program", p->program, "the .kprog file")->required();
  publish->add_option("--key", p->key, "the publisher's key file (keel model keygen)")->required();
  publish->add_option("--model-id", p->model_id, "the spec's model id it updates")->required();
  publish->add_option("--version", p->version, "a version higher than any installed")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 53));
  publish->add_option("--device-class", p->device_classes, "target device classes (default: the program's)");
  publish->add_option("--rollout", p->rollout, "percentage of devices (by device id)")->check(CLI::Range(0, 100));
  publish->add_option("--expires-in-days", p->expires_in_days, "validity")->check(CLI::Range(0.0, 3650.0));
  publish->add_option("--min-accuracy", p->min_accuracy, "least canary accuracy to commit")->check(CLI::Range(0.0, 1.0));
  publish->add_option("--max-p99-ms", p->max_p99_ms, "most canary p99 latency (0: the device's bound)")
      ->check(CLI::Range(0.0, 1e6));
  publish->add_option("-o,--out", p->out, "the folder to publish into")->required();
  publish->callback([p, &exit_code] { exit_code = run_publish(*p); });

  auto i = std::make_shared<InstallFlags>();
  CLI::App* install = update->add_subcommand("install", "Verify, stage, health-check and commit an update");
  install->add_option("update", i->update, "the update's update.json")->required();
  install->add_option("--slots", i->slots, "the device's slots folder")->required();
  install->add_option("--device", i->device, "the device profile (YAML)")->required();
  install->add_option("--canary", i->canary, "the device's canary image set (.kimg)")->required();
  install->add_option("--spec", i->spec, "the spec: edge.update_signer and slo.latency_ms.p99");
  install->add_option("--trust", i->trust, "the publisher key to trust (ed25519:HEX) instead");
  install->add_option("--device-id", i->device_id, "this device's id (default /etc/machine-id)");
  install->add_flag("--json", i->json, "print the outcome as JSON");
  install->callback([i, &exit_code] { exit_code = run_install(*i); });

  struct StatusFlags {
    std::string slots;
    bool json = false;
  };
  auto s = std::make_shared<StatusFlags>();
  CLI::App* status = update->add_subcommand("status", "Show the slots and update outcomes");
  status->add_option("--slots", s->slots, "the device's slots folder")->required();
  status->add_flag("--json", s->json, "print as JSON");
  status->callback([s, &exit_code] { exit_code = run_status(s->slots, s->json); });

  struct RollbackFlags {
    std::string slots, reason = "asked by the user";
  };
  auto r = std::make_shared<RollbackFlags>();
  CLI::App* rollback = update->add_subcommand("rollback", "Go back to the other good program");
  rollback->add_option("--slots", r->slots, "the device's slots folder")->required();
  rollback->add_option("--reason", r->reason, "recorded with the rollback");
  rollback->callback([r, &exit_code] {
    auto slots = edge::ProgramSlots::open(r->slots);
    if (!slots.ok()) {
      exit_code = fail(slots.status().message());
      return;
    }
    Status done = slots->roll_back(r->reason);
    if (!done.ok()) {
      exit_code = fail(done.message(), 4);
      return;
    }
    std::printf("active: slot %s\n", slots->active().c_str());
    exit_code = 0;
  });
}

}  // namespace keel::app
