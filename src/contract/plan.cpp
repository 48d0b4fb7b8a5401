#include "contract/plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

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
  // Failing checks first, then warnings, then passes; stable within each group.
  std::stable_sort(checks.begin(), checks.end(), [](const CheckResult& a, const CheckResult& b) {
    return static_cast<int>(a.status) > static_cast<int>(b.status);
  });
  plan_.accepted = !any_failed(checks);
  plan_.checks = std::move(checks);
  return std::move(plan_);
}

namespace {

std::string egress_enforcement(const Spec& spec) {
  const auto& e = spec.deployment.egress;
  switch (spec.deployment.target) {
    case Target::browser:
      return e.none ? "Content-Security-Policy connect-src 'self' (the page's own origin only)"
                    : fmt::format("Content-Security-Policy connect-src 'self' {}",
                                  fmt::join(e.allow, " "));
    case Target::mobile:
      return e.none ? "app built without network permission; update channel disabled"
                    : fmt::format("network client pinned to {}", fmt::join(e.allow, ", "));
    default:
      return e.none ? "seccomp filter: socket(AF_INET|AF_INET6) fails with EACCES, installed "
                      "before any model loads"
                    : fmt::format("outbound connections only to {} (allow-list dialer; "
                                  "network namespace in production)",
                                  fmt::join(e.allow, ", "));
  }
}

// Controls that follow from the five generic sections, for every scenario.
void add_common_controls(PlanBuilder& b) {
  const Spec& s = b.spec();
  b.control(b.egress_control(), "egress", egress_enforcement(s), "deployment.egress");
  switch (s.deployment.telemetry.sink) {
    case TelemetrySink::local:
      b.control(b.telemetry_control(), "telemetry",
                "metrics and traces written to local files only (Prometheus text, JSON lines)",
                "deployment.telemetry");
      break;
    case TelemetrySink::otlp:
      b.control(b.telemetry_control(), "telemetry",
                fmt::format("OTLP export to {} only", s.deployment.telemetry.endpoint),
                "deployment.telemetry");
      break;
    case TelemetrySink::none:
      b.control(b.telemetry_control(), "telemetry", "no metrics or traces recorded",
                "deployment.telemetry");
      break;
  }
  switch (s.deployment.remote_fallback) {
    case RemoteFallback::disabled:
      b.control(b.remote_fallback_control(), "route",
                "no remote route exists: a failure stays local", "deployment.remote_fallback");
      break;
    case RemoteFallback::opt_in:
      b.control(b.remote_fallback_control(), "route",
                "remote route only after the user's explicit consent per request",
                "deployment.remote_fallback");
      break;
    case RemoteFallback::enabled:
      b.control(b.remote_fallback_control(), "route",
                "route policy may send requests to the remote model when the local one cannot "
                "serve",
                "deployment.remote_fallback");
      break;
  }
  switch (s.data.raw_input_retention) {
    case Retention::none:
      b.control(b.retention_control(), "retention",
                "raw inputs live in memory for the request only and are never written",
                "data.raw_input_retention");
      break;
    case Retention::session:
      b.control(b.retention_control(), "retention",
                "raw inputs kept for the session, deleted when it ends",
                "data.raw_input_retention");
      break;
    case Retention::durable:
      b.control(b.retention_control(), "retention", "raw inputs stored durably (declared)",
                "data.raw_input_retention");
      break;
  }
  for (const auto& src : s.data.sources) {
    if (src.access == Access::read_only) {
      b.control("read-only:" + src.id, "read-only",
                fmt::format("{} opened read-only (O_RDONLY / read-only transactions); no tool "
                            "writes to it",
                            src.id),
                src.where.path);
    }
  }
  for (const auto& tool : s.authority.tools) {
    b.control("permission:" + tool.name, "permission",
              tool.roles.empty()
                  ? std::string("policy: default deny; no role is granted this tool")
                  : fmt::format("policy: default deny, forbid wins; granted to roles {}",
                                fmt::join(tool.roles, ", ")),
              tool.where.path + ".roles");
    if (tool.approval == Approval::always) {
      b.control("approval:" + tool.name, "approval",
                "durable approval gate: the case suspends until a reviewer approves the exact "
                "arguments (bound by hash)",
                tool.where.path + ".approval");
    } else if (tool.approval == Approval::conditional) {
      b.control("approval:" + tool.name, "approval",
                fmt::format("durable approval gate when {} (approval bound to the arguments' "
                            "hash)",
                            tool.condition.empty() ? "<no condition>" : tool.condition),
                tool.where.path + ".condition");
    }
    if (tool.idempotency == Idempotency::required) {
      b.control("idempotency:" + tool.name, "idempotency",
                "key = SHA-256(case, step, tool, canonical arguments), passed to the system of "
                "record; a repeat returns the first outcome",
                tool.where.path + ".idempotency");
    }
    if (tool.effect != Effect::read && s.authority.system_of_record) {
      b.control("outcome-check:" + tool.name, "outcome-check",
                fmt::format("unknown outcomes are looked up by idempotency key in {} before "
                            "any retry; never retried blind",
                            *s.authority.system_of_record),
                "authority.system_of_record");
    }
  }
  if (s.authority.memory.writes == MemoryWrites::explicit_writes) {
    b.control(b.memory_control(), "memory",
              fmt::format("memory changes only through journaled write tools to '{}'",
                          s.authority.memory.store.value_or("<none>")),
              "authority.memory");
  } else {
    b.control(b.memory_control(), "memory", "no memory tool is offered; nothing is remembered",
              "authority.memory");
  }
  for (const auto& m : s.deployment.models) {
    if (m.runs == ModelPlacement::local) {
      std::string bound = m.max_ram_mb ? fmt::format("min(max_ram_mb {} MB, available memory)",
                                                     *m.max_ram_mb)
                                       : std::string("available memory (MemAvailable, cgroup)");
      std::string response =
          s.failure.on_model_unfit == OnModelUnfit::fallback && !m.fallbacks.empty()
              ? fmt::format("load fallback {}", fmt::join(m.fallbacks, ", "))
              : std::string("refuse before loading, with the numbers");
      b.control("model-fit:" + m.id, "model-fit",
                fmt::format("engine estimate of weights + KV + scratch against {}; otherwise {}",
                            bound, response),
                m.where.path);
    }
    if (!m.sha256.empty()) {
      b.control("content-address:" + m.id, "integrity",
                fmt::format("SHA-256 of the model bytes must equal {}... before use",
                            m.sha256.substr(0, 12)),
                m.where.path + ".sha256");
    }
  }
  if (s.failure.on_overload) {
    b.control("admission", "admission",
              fmt::format("bounded queue; past the bound HTTP {} with Retry-After (floor {} s) "
                          "and a stable error body",
                          s.failure.on_overload->status, s.failure.on_overload->retry_after_s),
              "failure.on_overload");
  }
  if (s.failure.on_route_unavailable_set || s.scenario == ScenarioId::hybrid_field) {
    b.control("route-" + std::string(enum_name(s.failure.on_route_unavailable)), "route",
              s.failure.on_route_unavailable == OnRouteUnavailable::fail_closed
                  ? "when the permitted route is unavailable the request fails with a typed "
                    "error; no other route is tried"
              : s.failure.on_route_unavailable == OnRouteUnavailable::queue
                  ? "when the permitted route is unavailable the request waits in a durable "
                    "queue for it"
                  : "when the route is unavailable another route is tried",
              "failure.on_route_unavailable");
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

}  // namespace

Plan build_plan(const Spec& spec, std::vector<CheckResult> checks) {
  PlanBuilder b(spec);
  add_common_controls(b);
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
  for (Fault f : spec.failure.inject) {
    FailureResponse r = plan_fault(f, spec);
    r.injected = true;
    plan.failure_plan.push_back(std::move(r));
  }
  for (Fault f : implied_faults(spec)) {
    if (std::find(spec.failure.inject.begin(), spec.failure.inject.end(), f) ==
        spec.failure.inject.end()) {
      plan.failure_plan.push_back(plan_fault(f, spec));
    }
  }
  return plan;
}

}  // namespace keel::contract
