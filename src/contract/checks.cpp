#include "contract/checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "contract/condition.h"
#include "contract/model_record.h"
#include "core/hash.h"

namespace keel::contract {

std::string_view check_status_name(CheckStatus s) {
  switch (s) {
    case CheckStatus::pass: return "pass";
    case CheckStatus::warn: return "warn";
    case CheckStatus::fail: return "fail";
  }
  return "?";
}

namespace {

constexpr CheckInfo kCatalog[] = {
    {"K001", "side-effecting tool without authority",
     "a write or irreversible tool that no principal's role may call is either dead or will be "
     "granted ad hoc later, outside the contract"},
    {"K002", "irreversible action without approval",
     "irreversible actions (refunds, deletions, payments) need a human approval step; removing "
     "it to speed up a demo is how incidents start"},
    {"K003", "write without idempotency",
     "a retried or replayed write without an idempotency key takes effect twice"},
    {"K004", "telemetry leaves the boundary",
     "central telemetry carries prompts, documents and identifiers out of a deployment that "
     "promised they stay in"},
    {"K005", "cache used as durable memory",
     "agent memory written to a cache or to nothing is lost on eviction or restart"},
    {"K006", "no failure injection declared",
     "a deployment tested only on the happy path has an untested recovery plan"},
    {"K007", "writes without a system of record",
     "without an authoritative system of record, outcomes of writes cannot be checked and "
     "duplicates cannot be detected"},
    {"K008", "remote fallback breaks the data boundary",
     "a remote fallback sends data off the device even though egress is none, or sends "
     "restricted data to a remote model"},
    {"K009", "model without a compatibility record",
     "a model file that the engine never loaded and self-tested may not fit, load or answer"},
    {"K010", "SLO without a distribution",
     "a latency target without a percentile, or without the workload it holds under, cannot "
     "be measured or planned for"},
    {"K011", "sensitive data routed without failing closed",
     "when the route is unavailable, confidential or restricted data must not take another path"},
    {"K012", "conditional approval without a valid condition",
     "approval: conditional needs a condition such as `args.amount > 100`; without one (or with "
     "one that does not parse) it is unclear when a human is asked"},
    {"K013", "dangling reference", "a model fallback, a model's approved class or a policy rule names something the spec does not declare"},
    {"K014", "scenario and target disagree",
     "each reference scenario is planned for one kind of target; another target gets the wrong "
     "controls"},
    {"K015", "write tools in a read-only deployment",
     "this scenario promises read-only access; adding side-effecting tools breaks that promise"},
    {"K016", "server open to the network",
     "a server listening beyond loopback without API keys lets anyone who can reach it spend "
     "its compute and read its model; quotas and tenant fairness need keys too"},
    {"K017", "approval nobody can give",
     "a tool that waits for a human approval, where no principal holds a role that may approve "
     "it (or none can prove who they are), either blocks forever or gets approved by whoever "
     "types a name"},
    {"K018", "private data served beyond loopback",
     "a deployment whose confidential or restricted data must not leave the machine (egress: "
     "none) breaks that promise the moment a listener on the network serves it to remote "
     "readers"},
};

// Collects results; each points at the line of the key its path names (the nearest written
// ancestor when the file leaves that key to its default).
class Collector {
 public:
  Collector(const Spec& spec, std::vector<CheckResult>* out) : spec_(spec), out_(out) {}

  void fail(std::string_view id, const SpecLocation& where, std::string message) {
    add(id, CheckStatus::fail, where, std::move(message));
  }
  void warn(std::string_view id, const SpecLocation& where, std::string message) {
    add(id, CheckStatus::warn, where, std::move(message));
  }
  //! Adds a pass entry for `id` unless it already reported something.
  void pass_unless_reported(std::string_view id, const SpecLocation& where, std::string message) {
    for (const auto& r : *out_) {
      if (r.id == id) return;
    }
    add(id, CheckStatus::pass, where, std::move(message));
  }

 private:
  void add(std::string_view id, CheckStatus status, const SpecLocation& where, std::string message) {
    // The key itself when the file writes it; otherwise the more specific of the caller's line
    // (a list item's) and the nearest written ancestor's.
    // A path the file does not write at all (no section of it) has no line to point at.
    auto exact = spec_.key_lines.find(where.path);
    const int ancestor = spec_.locate(where.path).line;
    const int line = exact != spec_.key_lines.end() ? exact->second
                     : ancestor == 0                ? 0
                                                    : std::max(where.line, ancestor);
    out_->push_back({std::string(id), status, std::move(message), where.path, line});
  }

  const Spec& spec_;
  std::vector<CheckResult>* out_;
};

SpecLocation child(const SpecLocation& parent, std::string_view key) {
  return {parent.path + "." + std::string(key), parent.line};
}

bool is_side_effecting(const Tool& t) { return t.effect != Effect::read; }

void check_k001(const Spec& spec, Collector& c) {
  std::set<std::string> held;
  for (const auto& p : spec.authority.principals) held.insert(p.roles.begin(), p.roles.end());
  for (const auto& tool : spec.authority.tools) {
    if (!is_side_effecting(tool)) continue;
    if (tool.roles.empty()) {
      c.fail("K001", child(tool.where, "roles"),
             fmt::format("{} tool '{}' grants no role: nobody is authorised to call it; list the "
                         "roles that may",
                         enum_name(tool.effect), tool.name));
      continue;
    }
    bool granted = std::any_of(tool.roles.begin(), tool.roles.end(),
                               [&](const std::string& r) { return held.count(r) > 0; });
    if (!granted) {
      c.fail("K001", child(tool.where, "roles"),
             fmt::format("{} tool '{}' is granted to roles [{}] that no principal holds",
                         enum_name(tool.effect), tool.name, fmt::join(tool.roles, ", ")));
    }
  }
  c.pass_unless_reported("K001", {"authority.tools", spec.authority.where.line},
                         "every write/irreversible tool is granted to a role a principal holds");
}

void check_k002(const Spec& spec, Collector& c) {
  for (const auto& tool : spec.authority.tools) {
    if (tool.effect == Effect::irreversible && tool.approval == Approval::none) {
      c.fail("K002", child(tool.where, "approval"),
             fmt::format("irreversible tool '{}' runs without approval; set approval: always, "
                         "or conditional with a condition",
                         tool.name));
    }
  }
  c.pass_unless_reported("K002", {"authority.tools", spec.authority.where.line},
                         "every irreversible tool requires approval");
}

void check_k003(const Spec& spec, Collector& c) {
  for (const auto& tool : spec.authority.tools) {
    if (is_side_effecting(tool) && tool.idempotency != Idempotency::required) {
      c.fail("K003", child(tool.where, "idempotency"),
             fmt::format("{} tool '{}' has no idempotency key; set idempotency: required so a "
                         "retry or replay cannot apply it twice",
                         enum_name(tool.effect), tool.name));
    }
  }
  c.pass_unless_reported("K003", {"authority.tools", spec.authority.where.line},
                         "every write/irreversible tool carries an idempotency key");
}

void check_k004(const Spec& spec, Collector& c) {
  const auto& t = spec.deployment.telemetry;
  const auto& egress = spec.deployment.egress;
  DataClass highest = spec.data.highest_class();
  if (t.sink == TelemetrySink::otlp) {
    if (egress.none) {
      c.fail("K004", child(t.where, "sink"),
             fmt::format("telemetry is sent to {} (otlp) but egress is none: either the "
                         "telemetry leaks or it silently fails; use sink: local",
                         t.endpoint));
    } else if (!egress.allows(t.endpoint)) {
      if (highest >= DataClass::confidential) {
        c.fail("K004", child(t.where, "endpoint"),
               fmt::format("telemetry endpoint {} is outside the egress allow-list while the "
                           "data is {}; keep telemetry local or inside the boundary",
                           t.endpoint, enum_name(highest)));
      } else {
        c.warn("K004", child(t.where, "endpoint"),
               fmt::format("telemetry endpoint {} is not in the egress allow-list; it will be "
                           "blocked",
                           t.endpoint));
      }
    }
  }
  c.pass_unless_reported("K004", t.where,
                         t.sink == TelemetrySink::otlp
                             ? fmt::format("telemetry goes to {}, inside the egress allow-list",
                                           t.endpoint)
                             : std::string("telemetry stays inside the deployment"));
}

void check_k005(const Spec& spec, Collector& c) {
  const auto& mem = spec.authority.memory;
  if (mem.writes == MemoryWrites::explicit_writes) {
    if (!mem.store) {
      c.fail("K005", child(mem.where, "store"),
             "memory writes are explicit but no store is named: memory would live in a cache "
             "or in process memory; name a durable component");
    } else if (const Component* comp = spec.find_component(*mem.store)) {
      if (!comp->is_durable()) {
        c.fail("K005", child(mem.where, "store"),
               fmt::format("memory store '{}' is a {} component: it is not durable; use a "
                           "sqlite/postgresql store",
                           comp->id,
                           comp->durable == false ? "non-durable"
                                                  : std::string(enum_name(comp->kind))));
      }
    } else {
      c.warn("K005", child(mem.where, "store"),
             fmt::format("memory store '{}' is not declared in components, so its durability "
                         "cannot be checked",
                         *mem.store));
    }
  }
  c.pass_unless_reported("K005", mem.where,
                         mem.writes == MemoryWrites::none ? std::string("no memory writes")
                         : mem.store
                             ? fmt::format("memory is written to durable store '{}'", *mem.store)
                             : std::string("memory writes name no store"));
}

void check_k006(const Spec& spec, Collector& c) {
  if (spec.failure.inject.empty()) {
    c.fail("K006", spec.failure.inject_where,
           "no failure injection declared: list the faults this deployment is tested against in "
           "failure.inject (e.g. model-restart, worker-kill)");
  }
  c.pass_unless_reported("K006", spec.failure.inject_where,
                         fmt::format("{} fault(s) injected", spec.failure.inject.size()));
}

void check_k007(const Spec& spec, Collector& c) {
  const Tool* first_write = nullptr;
  for (const auto& t : spec.authority.tools) {
    if (is_side_effecting(t)) {
      first_write = &t;
      break;
    }
  }
  SpecLocation where{"authority.system_of_record", spec.authority.where.line};
  if (first_write && !spec.authority.system_of_record) {
    c.fail("K007", where,
           fmt::format("tool '{}' writes, but no system_of_record is named: outcomes cannot be "
                       "checked and duplicates cannot be detected",
                       first_write->name));
  } else if (spec.authority.system_of_record &&
             !spec.find_component(*spec.authority.system_of_record)) {
    c.warn("K007", where,
           fmt::format("system of record '{}' is not declared in components",
                       *spec.authority.system_of_record));
  }
  // (A write tool without a system of record has failed above; the message reads it only when
  // it is there.)
  c.pass_unless_reported("K007", where,
                         !first_write ? std::string("no write tools")
                         : spec.authority.system_of_record
                             ? fmt::format("writes are checked against '{}'", *spec.authority.system_of_record)
                             : std::string());
}

void check_k008(const Spec& spec, Collector& c) {
  const auto& d = spec.deployment;
  SpecLocation where{"deployment.remote_fallback", d.where.line};
  // A page's only reachable origin under egress none is its own (connect-src 'self'): an
  // opt-in fallback there sends the text to the app's server after the user agreed, nowhere else.
  const bool browser_own_origin = d.target == Target::browser &&
                                  d.remote_fallback == RemoteFallback::opt_in && d.egress.none;
  if (browser_own_origin) {
    c.pass_unless_reported("K008", where,
                           "the opt-in fallback reaches only the app's own origin (connect-src "
                           "'self'), and only after the user's consent");
    return;
  }
  if (d.remote_fallback != RemoteFallback::disabled && d.egress.none) {
    c.fail("K008", where,
           fmt::format("remote_fallback is {} while egress is none: a fallback would send data "
                       "off the device; set remote_fallback: disabled",
                       enum_name(d.remote_fallback)));
  } else if (d.remote_fallback == RemoteFallback::enabled &&
             spec.data.highest_class() == DataClass::restricted) {
    c.fail("K008", where,
           "remote_fallback is enabled for restricted data: restricted data must not reach a "
           "remote model without the user's consent; use opt-in or disabled");
  }
  c.pass_unless_reported("K008", where,
                         fmt::format("remote fallback {} fits egress and data class",
                                     enum_name(d.remote_fallback)));
}

void check_k009(const Spec& spec, Collector& c) {
  for (const auto& model : spec.deployment.models) {
    if (model.runs == ModelPlacement::remote) continue;  // an endpoint, not a file to check
    SpecLocation where = child(model.where, model.path.empty() ? "url" : "path");
    if (model.path.empty()) {
      if (model.sha256.empty()) {
        c.warn("K009", where,
               fmt::format("model '{}' is fetched from {} without a sha256: it is not content "
                           "addressed",
                           model.id, model.url));
      }
      continue;
    }
    std::string file = resolve_spec_path(spec, model.path);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      c.fail("K009", where,
             fmt::format("model '{}': file {} does not exist", model.id, file));
      continue;
    }
    auto stamp = stat_file(file);
    if (!model.sha256.empty()) {
      auto digest = sha256_file(file);
      if (!digest.ok() || to_hex(*digest) != model.sha256) {
        c.fail("K009", child(model.where, "sha256"),
               fmt::format("model '{}': {} does not match the pinned sha256", model.id, model.path));
        continue;
      }
    }
    // An ONNX model is trusted through its signed manifest (checked by whoever loads it); the
    // engine's compatibility record is for the GGUF files it runs.
    if (model.format == "onnx") {
      if (model.sha256.empty())
        c.warn("K009", where,
               fmt::format("model '{}' has no sha256: it is not content addressed", model.id));
      continue;
    }
    auto record = read_model_record(file);
    if (!record.ok()) {
      c.warn("K009", where,
             record.status().code() == StatusCode::not_found
                 ? fmt::format("model '{}' has no compatibility record; run `keel check-model {}`",
                               model.id, file)
                 : fmt::format("model '{}': unreadable compatibility record ({}); run `keel "
                               "check-model {}` again",
                               model.id, record.status().message(), file));
      continue;
    }
    bool current = stamp.ok() && stamp->size == record->file_size;
    if (current && stamp->mtime_ns != record->file_mtime_ns) {
      // A fresh checkout changes mtimes: fall back to the content hash.
      auto digest = sha256_file(file);
      current = digest.ok() && to_hex(*digest) == record->sha256;
    }
    if (!current) {
      c.warn("K009", where,
             fmt::format("model '{}' changed since its compatibility record; run `keel "
                         "check-model {}` again",
                         model.id, file));
    } else if (!record->self_test_passed) {
      c.fail("K009", where,
             fmt::format("model '{}' failed the engine's self-test: {}", model.id,
                         record->self_test_detail));
    }
  }
  c.pass_unless_reported("K009", {"deployment.models", spec.deployment.where.line},
                         "every model file exists and has a current compatibility record");
}

void check_k010(const Spec& spec, Collector& c) {
  const auto& slo = spec.slo;
  if (!slo.present) {
    c.fail("K010", {"slo", 0},
           "no slo section: state latency percentiles and the workload they hold under");
    return;
  }
  bool any_latency = false;
  for (const auto* l : {&slo.ttft_ms, &slo.tpot_ms, &slo.e2e_ms, &slo.latency_ms}) {
    if (!l->has_value()) continue;
    any_latency = true;
    const LatencySlo& s = **l;
    if (!s.has_percentile()) {
      std::string what = s.bare   ? fmt::format("a bare number ({})", *s.bare)
                         : s.mean ? std::string("a mean")
                         : s.max  ? std::string("a max")
                                  : std::string("no value");
      c.fail("K010", s.where,
             fmt::format("latency objective {} is {}, not a percentile; write e.g. {{p95: N}}",
                         s.where.path, what));
    }
  }
  if (!any_latency) {
    c.warn("K010", slo.where, "no latency objective: nothing to measure the deployment against");
  }
  if (!slo.workload) {
    c.fail("K010", {"slo.workload", slo.where.line},
           "no workload: a latency objective only means something at a stated load (rps or "
           "concurrency, and input sizes)");
  } else if (slo.workload->empty()) {
    c.fail("K010", slo.workload->where, "workload states neither rps nor concurrency");
  }
  c.pass_unless_reported("K010", slo.where, "latency objectives are percentiles under a workload");
}

void check_k011(const Spec& spec, Collector& c) {
  DataClass highest = spec.data.highest_class();
  SpecLocation where{"failure.on_route_unavailable", spec.failure.where.line};
  if (highest >= DataClass::confidential &&
      spec.failure.on_route_unavailable != OnRouteUnavailable::fail_closed) {
    c.fail("K011", where,
           fmt::format("{} data with on_route_unavailable: {}; it must be fail-closed",
                       enum_name(highest), enum_name(spec.failure.on_route_unavailable)));
  }
  c.pass_unless_reported("K011", where,
                         highest >= DataClass::confidential
                             ? std::string("sensitive data fails closed")
                             : fmt::format("data is at most {}", enum_name(highest)));
}

void check_condition_syntax(const std::string& text, const SpecLocation& where, Collector& c) {
  auto parsed = Condition::parse(text);
  if (!parsed.ok()) {
    c.fail("K012", where, parsed.status().message());
    return;
  }
  for (const auto& root : parsed->roots()) {
    if (root != "args" && root != "case" && root != "principal") {
      c.fail("K012", where,
             fmt::format("condition '{}' reads '{}'; conditions may read args, case and principal", text, root));
    }
  }
}

void check_k012(const Spec& spec, Collector& c) {
  for (const auto& tool : spec.authority.tools) {
    if (tool.approval == Approval::conditional && tool.condition.empty()) {
      c.fail("K012", child(tool.where, "condition"),
             fmt::format("tool '{}' has approval: conditional but no condition", tool.name));
    } else if (tool.approval != Approval::conditional && !tool.condition.empty()) {
      c.warn("K012", child(tool.where, "condition"),
             fmt::format("tool '{}' has a condition but approval is {}; the condition is unused",
                         tool.name, enum_name(tool.approval)));
    } else if (!tool.condition.empty()) {
      check_condition_syntax(tool.condition, child(tool.where, "condition"), c);
    }
  }
  for (const auto& rule : spec.authority.policy) {
    if (!rule.when.empty()) check_condition_syntax(rule.when, child(rule.where, "when"), c);
  }
  c.pass_unless_reported("K012", {"authority.tools", spec.authority.where.line},
                         "conditional approvals state their condition");
}

void check_k013(const Spec& spec, Collector& c) {
  for (const auto& model : spec.deployment.models) {
    for (size_t i = 0; i < model.classes.size(); ++i) {
      const auto& declared = spec.data.classes;
      if (std::find(declared.begin(), declared.end(), model.classes[i]) == declared.end()) {
        c.fail("K013", {fmt::format("{}.classes[{}]", model.where.path, i), model.where.line},
               fmt::format("model '{}' is approved for class '{}', which data.classes does not declare", model.id,
                           enum_name(model.classes[i])));
      }
    }
    for (size_t i = 0; i < model.fallbacks.size(); ++i) {
      const std::string& f = model.fallbacks[i];
      SpecLocation where{fmt::format("{}.fallbacks[{}]", model.where.path, i), model.where.line};
      if (f == model.id) {
        c.fail("K013", where, fmt::format("model '{}' names itself as its fallback", model.id));
      } else if (!spec.find_model(f)) {
        c.fail("K013", where,
               fmt::format("model '{}' falls back to '{}', which deployment.models does not "
                           "declare",
                           model.id, f));
      }
    }
  }
  const auto& declared = spec.data.classes;
  auto undeclared = [&](DataClass d) { return std::find(declared.begin(), declared.end(), d) == declared.end(); };
  for (const auto& task : spec.routing.tasks) {
    if (undeclared(task.data_class))
      c.fail("K013", child(task.where, "class"),
             fmt::format("task '{}' reads class '{}', which data.classes does not declare", task.type,
                         enum_name(task.data_class)));
  }
  for (size_t i = 0; i < spec.routing.consent.size(); ++i) {
    if (undeclared(spec.routing.consent[i]))
      c.fail("K013", {fmt::format("routing.consent[{}]", i), spec.routing.where.line},
             fmt::format("consent names class '{}', which data.classes does not declare",
                         enum_name(spec.routing.consent[i])));
  }
  for (const auto& rule : spec.authority.policy) {
    for (size_t i = 0; i < rule.tools.size(); ++i) {
      const std::string& t = rule.tools[i];
      bool known = t == "*" || std::any_of(spec.authority.tools.begin(), spec.authority.tools.end(),
                                           [&](const Tool& tool) { return tool.name == t; });
      if (!known) {
        c.fail("K013", {fmt::format("{}.tools[{}]", rule.where.path, i), rule.where.line},
               fmt::format("policy rule '{}' names tool '{}', which authority.tools does not declare", rule.id, t));
      }
    }
  }
  if (spec.serving.present && !spec.serving.api_keys.empty()) {
    std::error_code ec;
    std::string keys = resolve_spec_path(spec, spec.serving.api_keys);
    if (!std::filesystem::is_regular_file(keys, ec)) {
      c.fail("K013", child(spec.serving.where, "api_keys"),
             fmt::format("the API key file {} does not exist", keys));
    }
  }
  c.pass_unless_reported("K013", {"deployment.models", spec.deployment.where.line},
                         "every reference resolves");
}

void check_k014(const Spec& spec, Collector& c) {
  std::vector<Target> expected;
  switch (spec.scenario) {
    case ScenarioId::local_research: expected = {Target::desktop}; break;
    case ScenarioId::enterprise_rag: expected = {Target::cluster}; break;
    case ScenarioId::browser_classifier: expected = {Target::browser}; break;
    case ScenarioId::mobile_vision: expected = {Target::mobile}; break;
    case ScenarioId::llm_service: expected = {Target::cluster}; break;
    case ScenarioId::durable_agent: expected = {Target::workflow, Target::cluster}; break;
    case ScenarioId::hybrid_field: expected = {Target::field}; break;
  }
  SpecLocation where{"deployment.target", spec.deployment.where.line};
  if (std::find(expected.begin(), expected.end(), spec.deployment.target) == expected.end()) {
    c.warn("K014", where,
           fmt::format("scenario {} is planned for target {}, not {}", enum_name(spec.scenario),
                       enum_name(expected.front()), enum_name(spec.deployment.target)));
  }
  c.pass_unless_reported("K014", where, "target fits the scenario");
}

void check_k015(const Spec& spec, Collector& c) {
  bool read_only_scenario = spec.scenario == ScenarioId::local_research ||
                            spec.scenario == ScenarioId::browser_classifier ||
                            spec.scenario == ScenarioId::mobile_vision;
  if (read_only_scenario) {
    for (const auto& tool : spec.authority.tools) {
      if (is_side_effecting(tool)) {
        c.fail("K015", child(tool.where, "effect"),
               fmt::format("{} is a read-only deployment, but tool '{}' is {}",
                           enum_name(spec.scenario), tool.name, enum_name(tool.effect)));
      }
    }
  }
  c.pass_unless_reported("K015", {"authority.tools", spec.authority.where.line},
                         read_only_scenario ? "the read-only deployment has no write tools"
                                            : "scenario allows write tools");
}

void check_k016(const Spec& spec, Collector& c) {
  SpecLocation where = spec.serving.present ? child(spec.serving.where, "host") : SpecLocation{"serving", 0};
  if (spec.serving.present && !is_loopback_host(spec.serving.host) && spec.serving.api_keys.empty()) {
    c.fail("K016", where,
           fmt::format("the server listens on {} without serving.api_keys: anyone who reaches it may use it; "
                       "add a key file (`keel keygen`) or listen on 127.0.0.1",
                       spec.serving.host));
  }
  c.pass_unless_reported("K016", where,
                         !spec.serving.present             ? "no server in this deployment"
                         : !spec.serving.api_keys.empty()  ? "the server requires API keys"
                                                           : "the server listens on loopback only");
}

void check_k017(const Spec& spec, Collector& c) {
  const bool unsigned_allowed = spec.authority.unsigned_approvals == UnsignedApprovals::allowed;
  for (const auto& tool : spec.authority.tools) {
    if (tool.approval == Approval::none) continue;
    const std::vector<std::string> roles = tool.approving_roles();
    std::vector<const Principal*> approvers;
    for (const auto& p : spec.authority.principals) {
      bool holds = std::any_of(roles.begin(), roles.end(), [&](const std::string& r) {
        return std::find(p.roles.begin(), p.roles.end(), r) != p.roles.end();
      });
      if (holds) approvers.push_back(&p);
    }
    SpecLocation where =
        child(tool.where, tool.approver_roles.empty() ? "approval" : "approver_roles");
    if (approvers.empty()) {
      c.fail("K017", where,
             fmt::format("tool '{}' needs approval by a principal with role [{}], and no "
                         "principal holds one: give a reviewer that role in "
                         "authority.principals",
                         tool.name, fmt::join(roles, ", ")));
      continue;
    }
    bool any_key = std::any_of(approvers.begin(), approvers.end(),
                               [](const Principal* p) { return p->public_key.has_value(); });
    if (!any_key && !unsigned_allowed) {
      std::vector<std::string> ids;
      for (const Principal* p : approvers) ids.push_back(p->id);
      c.fail("K017", child(approvers.front()->where, "public_key"),
             fmt::format("tool '{}' needs approval, but its approvers ({}) have no public_key "
                         "and unsigned approvals are refused: register one (`keel agent keygen "
                         "--principal {}`) or set authority.unsigned_approvals: allowed",
                         tool.name, fmt::join(ids, ", "), ids.front()));
    }
  }
  c.pass_unless_reported("K017", {"authority.tools", spec.authority.where.line},
                         unsigned_allowed
                             ? "every approval has a principal who may give it (unsigned "
                               "approvals allowed)"
                             : "every approval has a principal who may give it with a registered "
                               "key");
}

//! The data a remote reader would get: confidential or restricted, held by the deployment
//! (it has data sources) and promised not to leave (egress: none).
bool holds_private_data(const Spec& spec) {
  return spec.deployment.egress.none && spec.data.highest_class() >= DataClass::confidential &&
         !spec.data.sources.empty();
}

std::string exposure_message(const Spec& spec, std::string_view listener, std::string_view host) {
  return fmt::format(
      "{} listens on {}, beyond loopback, over {} data that egress: none keeps on this machine: "
      "remote clients would read it; listen on 127.0.0.1, or set deployment.remote_readers: "
      "allowed if remote readers are part of the contract",
      listener, host, enum_name(spec.data.highest_class()));
}

void check_k018(const Spec& spec, Collector& c) {
  SpecLocation where = spec.serving.present ? child(spec.serving.where, "host")
                                            : spec.deployment.remote_readers_where;
  const bool exposed = spec.serving.present && !is_loopback_host(spec.serving.host);
  if (exposed && holds_private_data(spec) &&
      spec.deployment.remote_readers != RemoteReaders::allowed) {
    c.fail("K018", where, exposure_message(spec, "the server", spec.serving.host));
  }
  c.pass_unless_reported(
      "K018", where,
      !holds_private_data(spec) ? std::string("no private data bound to this machine")
      : spec.deployment.remote_readers == RemoteReaders::allowed
          ? std::string("remote readers are allowed by deployment.remote_readers")
          : std::string("private data is served on loopback only (listeners are checked again "
                        "at start-up)"));
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.starts_with("127.");
}

std::optional<CheckResult> check_listener_exposure(const Spec& spec, std::string_view listener,
                                                   std::string_view host) {
  if (is_loopback_host(host) || !holds_private_data(spec) ||
      spec.deployment.remote_readers == RemoteReaders::allowed) {
    return std::nullopt;
  }
  return CheckResult{"K018", CheckStatus::fail, exposure_message(spec, listener, host),
                     spec.deployment.remote_readers_where.path,
                     spec.deployment.remote_readers_where.line};
}

std::span<const CheckInfo> check_catalog() { return kCatalog; }

std::string resolve_spec_path(const Spec& spec, const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::path(path).is_absolute()) return path;
  std::error_code ec;
  fs::path beside_spec = fs::path(spec.base_dir) / path;
  if (fs::exists(beside_spec, ec)) return beside_spec.lexically_normal().string();
  if (fs::exists(path, ec)) return path;
  return beside_spec.lexically_normal().string();
}

Result<std::string> document_folder(const Spec& spec) {
  for (const auto& s : spec.data.sources) {
    if (s.kind == SourceKind::folder) return resolve_spec_path(spec, s.path);
  }
  return Status::invalid_argument(fmt::format("{} has no data source of kind folder", spec.name));
}

std::vector<CheckResult> run_checks(const Spec& spec) {
  std::vector<CheckResult> out;
  Collector c(spec, &out);
  check_k001(spec, c);
  check_k002(spec, c);
  check_k003(spec, c);
  check_k004(spec, c);
  check_k005(spec, c);
  check_k006(spec, c);
  check_k007(spec, c);
  check_k008(spec, c);
  check_k009(spec, c);
  check_k010(spec, c);
  check_k011(spec, c);
  check_k012(spec, c);
  check_k013(spec, c);
  check_k014(spec, c);
  check_k015(spec, c);
  check_k016(spec, c);
  check_k017(spec, c);
  check_k018(spec, c);
  return out;
}

bool any_failed(const std::vector<CheckResult>& results) {
  return std::any_of(results.begin(), results.end(),
                     [](const CheckResult& r) { return r.status == CheckStatus::fail; });
}

}  // namespace keel::contract
