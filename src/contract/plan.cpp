#include "contract/plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "contract/fault_injections.h"
#include "contract/plan_builder.h"

namespace keel::contract {

PlanBuilder::PlanBuilder(const Spec& spec) : spec_(spec) {
  plan_.scenario = std::string(enum_name(spec.scenario));
  plan_.name = spec.name;
}

void PlanBuilder::component(std::string id, std::string kind, std::string runs_on,
                            std::string trust_zone, std::string detail) {
  if (has_component(id)) return;
  plan_.components.push_back(
      {std::move(id), std::move(kind), std::move(runs_on), std::move(trust_zone), std::move(detail)});
}

bool PlanBuilder::has_component(std::string_view id) const {
  return std::any_of(plan_.components.begin(), plan_.components.end(),
                     [&](const PlanComponent& c) { return c.id == id; });
}

bool PlanBuilder::has_control(std::string_view id) const {
  return std::any_of(plan_.controls.begin(), plan_.controls.end(),
                     [&](const PlanControl& c) { return c.id == id; });
}

void PlanBuilder::link(const std::string& from, const std::string& to, std::string kind,
                       std::string runs_on) {
  auto zone_of = [&](const std::string& id) {
    for (const auto& c : plan_.components) {
      if (c.id == id) return c.trust_zone;
    }
    return std::string("?");
  };
  std::string a = zone_of(from), b = zone_of(to);
  plan_.links.push_back({from + "->" + to, std::move(kind), from, to, std::move(runs_on),
                         a == b ? a : a + " -> " + b});
}

void PlanBuilder::step(std::string id, std::string component, std::string action,
                       std::vector<std::string> controls) {
  plan_.execution_path.push_back(
      {std::move(id), std::move(component), std::move(action), std::move(controls)});
}

void PlanBuilder::control(std::string id, std::string kind, std::string enforced_by,
                          std::string spec_path) {
  if (has_control(id)) return;
  plan_.controls.push_back({std::move(id), std::move(kind), std::move(enforced_by), std::move(spec_path)});
}

void PlanBuilder::not_enforced(std::string_view id, std::string gap) {
  for (auto& c : plan_.controls) {
    if (c.id == id) {
      c.enforced = false;
      c.gap = std::move(gap);
    }
  }
}

void PlanBuilder::metric(std::string name, std::string unit, std::string kind, std::string source) {
  plan_.metrics.push_back({std::move(name), std::move(unit), std::move(kind), std::move(source)});
}

void PlanBuilder::refuse(std::string what) { plan_.refuses_to_own.push_back(std::move(what)); }

std::string PlanBuilder::egress_control() const {
  return spec_.deployment.egress.none ? "egress-none" : "egress-allow-list";
}

std::string PlanBuilder::telemetry_control() const {
  return "telemetry-" + std::string(enum_name(spec_.deployment.telemetry.sink));
}

std::string PlanBuilder::remote_fallback_control() const {
  return "remote-fallback-" + std::string(enum_name(spec_.deployment.remote_fallback));
}

std::string PlanBuilder::retention_control() const {
  return "raw-input-retention-" + std::string(enum_name(spec_.data.raw_input_retention));
}

std::string PlanBuilder::memory_control() const {
  return spec_.authority.memory.writes == MemoryWrites::none ? "memory-none" : "memory-explicit";
}

std::vector<std::string> PlanBuilder::model_controls(const ModelSpec& model) const {
  std::vector<std::string> ids;
  if (model.runs == ModelPlacement::local) ids.push_back("model-fit:" + model.id);
  if (!model.sha256.empty()) ids.push_back("content-address:" + model.id);
  return ids;
}

std::vector<std::string> PlanBuilder::tool_controls(const Tool& tool) const {
  std::vector<std::string> ids = {"permission:" + tool.name};
  if (tool.approval != Approval::none) ids.push_back("approval:" + tool.name);
  if (tool.idempotency == Idempotency::required) ids.push_back("idempotency:" + tool.name);
  if (tool.effect != Effect::read && spec_.authority.system_of_record) {
    ids.push_back("outcome-check:" + tool.name);
  }
  return ids;
}

std::vector<std::string> PlanBuilder::read_only_source_controls() const {
  std::vector<std::string> ids;
  for (const auto& s : spec_.data.sources) {
    if (s.access == Access::read_only) ids.push_back("read-only:" + s.id);
  }
  return ids;
}

const ModelSpec* PlanBuilder::model_with_role(ModelRole role) const {
  for (const auto& m : spec_.deployment.models) {
    if (m.role == role && m.runs == ModelPlacement::local) return &m;
  }
  return nullptr;
}

std::vector<std::string> PlanBuilder::add_models(const std::string& runs_on,
                                                 const std::string& trust_zone) {
  std::vector<std::string> ids;
  for (const auto& m : spec_.deployment.models) {
    std::string id = model_component(m);
    bool remote = m.runs == ModelPlacement::remote;
    std::string detail = fmt::format("{} {} model, {}", m.format.empty() ? "remote" : m.format,
                                     enum_name(m.role), remote ? m.url : (m.path.empty() ? m.url : m.path));
    if (m.max_ram_mb) detail += fmt::format(", max {} MB", *m.max_ram_mb);
    if (!m.fallbacks.empty()) detail += fmt::format(", falls back to {}", fmt::join(m.fallbacks, ", "));
    if (!m.classes.empty()) {
      std::vector<std::string> names;
      for (DataClass c : m.classes) names.push_back(std::string(enum_name(c)));
      detail += fmt::format(", approved for {}", fmt::join(names, ", "));
    }
    component(id, "model", remote ? "private-cloud" : runs_on,
              remote ? "private-cloud" : trust_zone, detail);
    ids.push_back(id);
  }
  return ids;
}

void PlanBuilder::add_declared_components(const std::string& runs_on,
                                          const std::string& trust_zone) {
  for (const auto& c : spec_.components) {
    std::string detail = c.path.empty() ? c.url : c.path;
    if (!c.is_durable()) detail += detail.empty() ? "not durable" : " (not durable)";
    component(c.id, std::string(enum_name(c.kind)), runs_on, trust_zone, detail);
  }
}

Plan PlanBuilder::finish(std::vector<CheckResult> checks) {
  // Scenario plans name the controls a step would use; the ones this spec does not produce
  // (e.g. read-only:<source> for a writable source) are dropped here, once everything exists.
  for (auto& step : plan_.execution_path) {
    std::erase_if(step.controls, [&](const std::string& id) { return !has_control(id); });
  }
  plan_.runtime_built = contract::runtime_built(spec_.scenario);
  plan_.runtime = runtime_command(spec_.scenario);
  if (!plan_.runtime_built) {
    for (auto& c : plan_.controls) {
      c.enforced = false;
      c.gap =
          fmt::format("runtime not built: nothing enforces this yet (`keel run` refuses {} specs)",
                      plan_.scenario);
    }
  }
  // Failing checks first, then warnings, then passes; stable within each group.
  std::stable_sort(checks.begin(), checks.end(), [](const CheckResult& a, const CheckResult& b) {
    return static_cast<int>(a.status) > static_cast<int>(b.status);
  });
  plan_.accepted = !any_failed(checks);
  plan_.checks = std::move(checks);
  return std::move(plan_);
}

bool runtime_built(ScenarioId scenario) {
  switch (scenario) {
    case ScenarioId::local_research:
    case ScenarioId::llm_service:
    case ScenarioId::durable_agent:
    case ScenarioId::enterprise_rag:
    case ScenarioId::hybrid_field:
    case ScenarioId::browser_classifier:
    case ScenarioId::mobile_vision:
      return true;
  }
  return false;
}

std::string runtime_command(ScenarioId scenario) {
  switch (scenario) {
    case ScenarioId::local_research:
      return "keel run SPEC --question Q (keel index, ask, eval)";
    case ScenarioId::llm_service:
      return "keel serve --spec SPEC";
    case ScenarioId::durable_agent:
      return "keel agent run SPEC --case ID (keel agent work, resume)";
    case ScenarioId::enterprise_rag:
      return "keel rag serve --spec SPEC (keel rag ask, keel eval enterprise-rag)";
    case ScenarioId::hybrid_field:
      return "keel field ask|do|sync --spec SPEC (cloud: keel serve, keel sync serve; keel eval hybrid-field)";
    case ScenarioId::browser_classifier:
      return "keel web serve --spec SPEC (keel model sign|verify; keel eval browser-classifier)";
    case ScenarioId::mobile_vision:
      return "keel run SPEC --video FILE.y4m (keel edge prepare|classify|update)";
    default:
      return "not built";
  }
}

namespace {

// What the built runtimes do, for controls whose enforcement differs between them. A
// scenario whose runtime is not built gets the planned mechanism (finish() marks it unenforced).
bool is(const Spec& s, ScenarioId id) {
  return s.scenario == id;
}

std::string egress_enforcement(const Spec& spec) {
  const auto& e = spec.deployment.egress;
  switch (spec.deployment.target) {
    case Target::browser:
      return e.none ? "Content-Security-Policy connect-src 'self' (the page's own origin only)"
                    : fmt::format("Content-Security-Policy connect-src 'self' {}",
                                  fmt::join(e.allow, " "));
    case Target::mobile:
      if (spec.scenario == ScenarioId::mobile_vision) {
        return fmt::format(
            "keel run --video and keel edge update install open no socket at all (the seccomp "
            "guard's no_sockets profile, before any model or frame is read); program updates "
            "reach the device as files{}",
            e.none ? "" : fmt::format(", fetched by the app from {}", fmt::join(e.allow, ", ")));
      }
      return e.none ? "app built without network permission; update channel disabled"
                    : fmt::format("network client pinned to {}", fmt::join(e.allow, ", "));
    default:
      if (!e.none) {
        return fmt::format("connections Keel opens (its one HTTP client) only to {}: the URL's host and "
                           "every address it resolves to are checked; no proxy, no redirect{}",
                           fmt::join(e.allow, ", "),
                           spec.scenario == ScenarioId::enterprise_rag
                               ? "; keel rag connects to the warehouse only at a host on the list or "
                                 "over a Unix socket of this machine"
                               : "");
      }
      if (spec.scenario == ScenarioId::llm_service) {
        return "seccomp filter once the listener is bound: socket() of every family, connect() and "
               "addressed sendto() fail with EACCES; accepted connections are served";
      }
      return "own network namespace with no interface up (where the system permits one), and a seccomp "
             "filter: socket() of every family, connect() and every send fail with EACCES, inherited "
             "sockets cut off; installed before any model or document is read";
  }
}

void add_egress_control(PlanBuilder& b) {
  const Spec& s = b.spec();
  // An allow-list binds Keel's own HTTP client; no seccomp filter stops a library that opens
  // sockets itself, which the runtimes' libraries do not.
  b.control(b.egress_control(), "egress", egress_enforcement(s), "deployment.egress");
}

void add_telemetry_control(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string id = b.telemetry_control();
  switch (s.deployment.telemetry.sink) {
    case TelemetrySink::local: {
      std::string how =
          is(s, ScenarioId::local_research)
              ? "no exporter: figures are printed by the command that measured them (--json)"
          : is(s, ScenarioId::llm_service)
              ? "no exporter: /metrics on the serving port for a scraper to pull; nothing is "
                "pushed"
          : is(s, ScenarioId::enterprise_rag)
              ? "no exporter: /metrics on keel rag serve's port for a scraper to pull; nothing is "
                "pushed"
          : is(s, ScenarioId::durable_agent)
              ? "no exporter: `keel agent stats` computes figures from the journal on demand"
          : is(s, ScenarioId::browser_classifier)
              ? "the page posts its measurements to its own origin only (CSP connect-src "
                "'self'); keel web serve keeps them in memory, in --measurements FILE and on "
                "/metrics; no third-party telemetry"
              : "metrics and traces written to local files only (Prometheus text, JSON lines)";
      b.control(id, "telemetry", how, "deployment.telemetry");
      break;
    }
    case TelemetrySink::otlp:
      b.control(id, "telemetry",
                fmt::format("OTLP export to {} only", s.deployment.telemetry.endpoint),
                "deployment.telemetry");
      if (b.runtime_built()) b.not_enforced(id, "no OTLP exporter is built: nothing is exported");
      break;
    case TelemetrySink::none:
      b.control(id, "telemetry", "no metrics or traces recorded", "deployment.telemetry");
      if (is(s, ScenarioId::llm_service)) {
        b.not_enforced(id, "keel serve always serves /metrics; nothing turns it off");
      }
      break;
  }
}

void add_remote_fallback_control(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string id = b.remote_fallback_control();
  switch (s.deployment.remote_fallback) {
    case RemoteFallback::disabled:
      b.control(id, "route", "no remote route exists: a failure stays local",
                "deployment.remote_fallback");
      return;
    case RemoteFallback::opt_in:
      b.control(id, "route",
                is(s, ScenarioId::hybrid_field)
                    ? "the remote route reads a class that needs consent only after the user recorded it "
                      "(keel field consent)"
                : is(s, ScenarioId::browser_classifier)
                    ? "the page calls the server-side classifier only when its local model is "
                      "unusable and the user switched remote classification on; keel web serve "
                      "refuses a request without the consent header (428)"
                    : "remote route only after the user's explicit consent per request",
                "deployment.remote_fallback");
      break;
    case RemoteFallback::enabled:
      b.control(
          id, "route",
          is(s, ScenarioId::browser_classifier)
              ? "the page still asks the user first: keel web serve offers the server-side "
                "classifier only behind the consent switch (enabled is served as opt-in)"
              : "route policy may send requests to the remote model when the local one cannot "
                "serve",
          "deployment.remote_fallback");
      break;
  }
  if (b.runtime_built() && !is(s, ScenarioId::hybrid_field) &&
      !is(s, ScenarioId::browser_classifier)) {
    b.not_enforced(id, "no remote fallback route is built: a failure stays local");
  }
}

void add_retention_control(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string id = b.retention_control();
  const Retention r = s.data.raw_input_retention;
  if (is(s, ScenarioId::durable_agent)) {
    // The journal is the agent's durability: case inputs, tool arguments and results are in it.
    b.control(id, "retention",
              "the case journal stores case inputs, tool arguments and results durably",
              "data.raw_input_retention");
    if (r != Retention::durable) {
      b.not_enforced(id, fmt::format("declared {}, but the journal keeps every case's inputs until "
                                     "it is deleted by hand",
                                     enum_name(r)));
    }
    return;
  }
  if (is(s, ScenarioId::enterprise_rag)) {
    b.control(id, "retention",
              r == Retention::durable
                  ? "declared durable, but keel rag writes no question anywhere: the audit table "
                    "keeps each question's SHA-256 only"
                  : fmt::format("questions live in memory for the request only; the audit table keeps "
                                "their SHA-256, never the text{}",
                                r == Retention::session ? " (stricter than the declared session)" : ""),
              "data.raw_input_retention");
    return;
  }
  if (is(s, ScenarioId::local_research) || is(s, ScenarioId::llm_service)) {
    std::string what =
        is(s, ScenarioId::local_research) ? "questions and answers" : "prompts and completions";
    b.control(
        id, "retention",
        r == Retention::durable
            ? fmt::format("declared durable, but this runtime writes no {} anywhere", what)
            : fmt::format("{} live in memory for the request only and are never written{}", what,
                          r == Retention::session ? " (stricter than the declared session)" : ""),
        "data.raw_input_retention");
    return;
  }
  switch (r) {
    case Retention::none:
      b.control(id, "retention",
                "raw inputs live in memory for the request only and are never written",
                "data.raw_input_retention");
      break;
    case Retention::session:
      b.control(id, "retention", "raw inputs kept for the session, deleted when it ends",
                "data.raw_input_retention");
      break;
    case Retention::durable:
      b.control(id, "retention", "raw inputs stored durably (declared)",
                "data.raw_input_retention");
      break;
  }
}

void add_source_controls(PlanBuilder& b) {
  const Spec& s = b.spec();
  for (const auto& src : s.data.sources) {
    if (src.access != Access::read_only) continue;
    const std::string id = "read-only:" + src.id;
    b.control(id, "read-only",
              is(s, ScenarioId::local_research)
                  ? fmt::format("{} is only read (by the indexer); no tool of this scenario writes",
                                src.id)
              : is(s, ScenarioId::browser_classifier)
                  ? fmt::format("{} is read by the page and the worker and never written back; "
                                "the form and the server keep counts only",
                                src.id)
                  : fmt::format("{} opened read-only (O_RDONLY / read-only transactions); no tool "
                                "writes to it",
                                src.id),
              src.where.path);
    if (is(s, ScenarioId::durable_agent)) {
      // The agent reaches stores through components; say so when one of them is this source.
      std::string writer;
      for (const auto& c : s.components) {
        if (!src.path.empty() && c.path == src.path) writer = c.id;
      }
      b.not_enforced(id, writer.empty()
                             ? std::string("keel agent never opens data sources; its tools reach "
                                           "stores through components")
                             : fmt::format("component {} is the same file and the agent's write "
                                           "tools change it",
                                           writer));
    } else if (is(s, ScenarioId::llm_service)) {
      b.not_enforced(id, "keel serve reads no data source");
    }
  }
}

void add_tool_controls(PlanBuilder& b) {
  const Spec& s = b.spec();
  const bool agent = is(s, ScenarioId::durable_agent);
  for (const auto& tool : s.authority.tools) {
    std::vector<std::string> ids;
    b.control("permission:" + tool.name, "permission",
              tool.roles.empty()
                  ? std::string("policy: default deny; no role is granted this tool")
                  : fmt::format("policy: default deny, forbid wins; granted to roles {}",
                                fmt::join(tool.roles, ", ")),
              tool.where.path + ".roles");
    ids.push_back("permission:" + tool.name);
    if (tool.approval != Approval::none) {
      std::string gate = tool.approval == Approval::always
                             ? std::string(
                                   "durable approval gate: the case suspends until a reviewer "
                                   "approves the exact arguments (bound by hash)")
                             : fmt::format(
                                   "durable approval gate when {} (approval bound to the "
                                   "arguments' hash)",
                                   tool.condition.empty() ? "<no condition>" : tool.condition);
      if (tool.approval_remind_after_s) {
        gate += fmt::format("; reviewers reminded after {} s", *tool.approval_remind_after_s);
      }
      if (tool.approval_expire_after_s) {
        gate += fmt::format("; an undecided request expires after {} s and the action is denied",
                            *tool.approval_expire_after_s);
      } else {
        gate += "; a request waits for a decision without a deadline";
      }
      b.control("approval:" + tool.name, "approval", gate,
                tool.where.path + (tool.approval == Approval::always ? ".approval" : ".condition"));
      ids.push_back("approval:" + tool.name);
    }
    if (tool.idempotency == Idempotency::required) {
      b.control("idempotency:" + tool.name, "idempotency",
                "key = SHA-256(case, step, tool, canonical arguments), passed to the system of "
                "record; a repeat returns the first outcome",
                tool.where.path + ".idempotency");
      ids.push_back("idempotency:" + tool.name);
    }
    if (tool.effect != Effect::read && s.authority.system_of_record) {
      b.control(
          "outcome-check:" + tool.name, "outcome-check",
          fmt::format(
              "unknown outcomes are looked up by idempotency key in the store the tool "
              "writes to ({}{}) before any retry; never retried blind",
              *s.authority.system_of_record,
              s.authority.memory.store && s.authority.memory.writes == MemoryWrites::explicit_writes
                  ? " or the memory store " + *s.authority.memory.store
                  : std::string()),
          "authority.system_of_record");
      ids.push_back("outcome-check:" + tool.name);
    }
    if (b.runtime_built() && !agent) {
      for (const auto& id : ids) {
        b.not_enforced(id, fmt::format("the {} runtime calls no tool through a policy engine; "
                                       "only keel agent does",
                                       enum_name(s.scenario)));
      }
    }
  }
}

void add_memory_control(PlanBuilder& b) {
  const Spec& s = b.spec();
  if (s.authority.memory.writes == MemoryWrites::explicit_writes) {
    b.control(b.memory_control(), "memory",
              fmt::format("memory changes only through journaled write tools to '{}'",
                          s.authority.memory.store.value_or("<none>")),
              "authority.memory");
    if (b.runtime_built() && !is(s, ScenarioId::durable_agent)) {
      b.not_enforced(b.memory_control(), "this runtime has no memory store");
    }
  } else {
    b.control(b.memory_control(), "memory", "no memory tool is offered; nothing is remembered",
              "authority.memory");
  }
}

void add_model_controls(PlanBuilder& b) {
  const Spec& s = b.spec();
  for (const auto& m : s.deployment.models) {
    if (m.runs == ModelPlacement::local) {
      const bool falls_back =
          s.failure.on_model_unfit == OnModelUnfit::fallback && !m.fallbacks.empty();
      std::string response = falls_back
                                 ? fmt::format("load fallback {}", fmt::join(m.fallbacks, ", "))
                                 : std::string("refuse before loading, with the numbers");
      const std::string id = "model-fit:" + m.id;
      if (is(s, ScenarioId::browser_classifier)) {
        b.control(id, "model-fit",
                  fmt::format("the page starts the model only when navigator.deviceMemory is at "
                              "least {} MB (browser.min_device_memory_mb{}); otherwise it shows "
                              "the form and says why",
                              std::max<int64_t>(s.browser.min_device_memory_mb,
                                                m.max_ram_mb.value_or(0)),
                              m.max_ram_mb ? fmt::format(", max_ram_mb {} MB", *m.max_ram_mb)
                                           : std::string()),
                  m.where.path);
      } else if (is(s, ScenarioId::mobile_vision)) {
        b.control(id, "model-fit",
                  m.max_ram_mb
                      ? fmt::format("keel run --video adds the prepared program's weights and its "
                                    "planned activation arena and holds them to max_ram_mb {} MB "
                                    "before the first frame; otherwise {}",
                                    *m.max_ram_mb, response)
                      : std::string("no max_ram_mb: the prepared program is loaded as it is"),
                  m.where.path);
      } else if (is(s, ScenarioId::llm_service)) {
        b.control(id, "model-fit",
                  "engine estimate of weights + KV cache for 2 x max_running sequences against "
                  "available memory (MemAvailable, cgroup); otherwise refuse before loading",
                  m.where.path);
        if (m.max_ram_mb || falls_back) {
          b.not_enforced(id,
                         "keel serve checks available memory only: max_ram_mb and fallbacks "
                         "are not applied");
        }
      } else {
        std::string bound =
            m.max_ram_mb ? fmt::format("min(max_ram_mb {} MB, available memory)", *m.max_ram_mb)
                         : std::string("available memory (MemAvailable, cgroup)");
        b.control(id, "model-fit",
                  fmt::format("engine estimate of weights + KV + scratch against {}; otherwise {}",
                              bound, response),
                  m.where.path);
        if (is(s, ScenarioId::durable_agent)) {
          b.not_enforced(id, "keel agent loads its model without a memory-fit check");
        } else if (is(s, ScenarioId::enterprise_rag) && m.role != ModelRole::generate) {
          b.not_enforced(id, "keel rag loads no embedding model: document search is lexical");
        }
      }
    }
    if (!m.sha256.empty()) {
      b.control("content-address:" + m.id, "integrity",
                is(s, ScenarioId::browser_classifier)
                    ? fmt::format("the Worker hashes the downloaded (or cached) bytes and uses "
                                  "them only if they match the signed manifest; K009 checks the "
                                  "published file against {}... when keel web serve starts",
                                  m.sha256.substr(0, 12))
                : b.runtime_built()
                    ? fmt::format("check K009 compares the file's SHA-256 with {}... when the "
                                  "runtime starts; a mismatch refuses the spec",
                                  m.sha256.substr(0, 12))
                    : fmt::format("SHA-256 of the model bytes must equal {}... before use",
                                  m.sha256.substr(0, 12)),
                m.where.path + ".sha256");
    }
  }
}

void add_overload_and_route_controls(PlanBuilder& b) {
  const Spec& s = b.spec();
  if (s.failure.on_overload) {
    const auto& o = *s.failure.on_overload;
    std::string bound = is(s, ScenarioId::llm_service) && s.serving.present
                            ? fmt::format("at most {} waiting requests{}", s.serving.max_waiting,
                                          s.serving.max_queue_wait_ms > 0
                                              ? fmt::format(" and a predicted wait under {} ms",
                                                            s.serving.max_queue_wait_ms)
                                              : std::string())
                        : is(s, ScenarioId::enterprise_rag)
                            ? std::string("at most --max-waiting (64 by default) requests waiting "
                                          "for keel rag serve's workers")
                            : std::string("bounded queue");
    b.control("admission", "admission",
              fmt::format("{}; past the bound HTTP {} with Retry-After (floor {} s) and a stable "
                          "error body",
                          bound, o.status, o.retry_after_s),
              "failure.on_overload");
    if (is(s, ScenarioId::llm_service) && o.status != 429) {
      b.not_enforced("admission", fmt::format("keel serve answers 429, not {}", o.status));
    } else if (b.runtime_built() && !is(s, ScenarioId::llm_service) && !is(s, ScenarioId::enterprise_rag)) {
      b.not_enforced("admission",
                     fmt::format("the {} runtime has no admission queue", enum_name(s.scenario)));
    }
  }
  if (s.failure.on_route_unavailable_set || s.scenario == ScenarioId::hybrid_field) {
    const std::string id = "route-" + std::string(enum_name(s.failure.on_route_unavailable));
    b.control(id, "route",
              s.failure.on_route_unavailable == OnRouteUnavailable::fail_closed
                  ? (is(s, ScenarioId::hybrid_field)
                         ? "a task no permitted route can take now fails with a typed error (or waits, "
                           "queued, when asked to); a route the policy forbids is never tried"
                         : "when the permitted route is unavailable the request fails with a typed "
                           "error; no other route is tried")
              : s.failure.on_route_unavailable == OnRouteUnavailable::queue
                  ? "when the permitted route is unavailable the request waits in a durable "
                    "queue for it"
                  : "when the route is unavailable another route is tried",
              "failure.on_route_unavailable");
    if (b.runtime_built() && s.failure.on_route_unavailable != OnRouteUnavailable::fail_closed) {
      b.not_enforced(id, "no route policy is built: a failure stays a typed error");
    }
  }
}

// Faults implied by the policies even when not injected.
std::vector<Fault> implied_faults(const Spec& s) {
  std::vector<Fault> out;
  if (!s.deployment.models.empty()) out.push_back(Fault::model_unfit);
  if (s.failure.on_overload) out.push_back(Fault::overload);
  if (s.scenario == ScenarioId::hybrid_field) out.push_back(Fault::connectivity_loss);
  if (s.deployment.egress.none && s.deployment.target != Target::browser &&
      s.deployment.target != Target::mobile) {
    out.push_back(Fault::egress_attempt);
  }
  return out;
}

FailureResponse fault_row(Fault f, const Spec& spec, bool declared) {
  FailureResponse r = plan_fault(f, spec);
  r.declared = declared;
  for (const FaultInjection* row : injections_for(f, spec.scenario))
    r.tested_by.emplace_back(row->test);
  return r;
}

}  // namespace

Plan build_plan(const Spec& spec, std::vector<CheckResult> checks) {
  PlanBuilder b(spec);
  add_egress_control(b);
  add_telemetry_control(b);
  add_remote_fallback_control(b);
  add_retention_control(b);
  add_source_controls(b);
  add_tool_controls(b);
  add_memory_control(b);
  add_model_controls(b);
  add_overload_and_route_controls(b);
  switch (spec.scenario) {
    case ScenarioId::local_research: plan_local_research(b); break;
    case ScenarioId::enterprise_rag: plan_enterprise_rag(b); break;
    case ScenarioId::browser_classifier: plan_browser_classifier(b); break;
    case ScenarioId::mobile_vision: plan_mobile_vision(b); break;
    case ScenarioId::llm_service: plan_llm_service(b); break;
    case ScenarioId::durable_agent: plan_durable_agent(b); break;
    case ScenarioId::hybrid_field: plan_hybrid_field(b); break;
  }
  Plan plan = b.finish(std::move(checks));
  for (Fault f : spec.failure.inject) plan.failure_plan.push_back(fault_row(f, spec, true));
  for (Fault f : implied_faults(spec)) {
    if (std::find(spec.failure.inject.begin(), spec.failure.inject.end(), f) ==
        spec.failure.inject.end()) {
      plan.failure_plan.push_back(fault_row(f, spec, false));
    }
  }
  return plan;
}

}  // namespace keel::contract
