#include "contract/plan_render.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.h"
#include "core/text_table.h"

namespace keel::contract {

namespace {

std::string where(const CheckResult& c) {
  if (c.spec_path.empty()) return "";
  return c.line > 0 ? fmt::format("{} (line {})", c.spec_path, c.line) : c.spec_path;
}

// "plan for '<name>' (scenario <id>): <verdict>" and which runtime enforces the plan.
std::string render_header(const Plan& plan) {
  std::string out;
  int failed = 0, warned = 0;
  for (const auto& c : plan.checks) {
    failed += c.status == CheckStatus::fail;
    warned += c.status == CheckStatus::warn;
  }
  out += fmt::format("plan for '{}' (scenario {}): {}\n", plan.name, plan.scenario,
                     plan.accepted ? (warned ? fmt::format("ACCEPTED with {} warning(s)", warned)
                                             : std::string("ACCEPTED"))
                                   : fmt::format("REFUSED: {} check(s) failed", failed));
  int unenforced = 0;
  for (const auto& c : plan.controls) unenforced += !c.enforced;
  if (!plan.runtime_built) {
    out +=
        "runtime: not built: nothing enforces this plan yet; the controls below are the "
        "design\n\n";
  } else {
    out += fmt::format(
        "runtime: {}{}\n\n", plan.runtime,
        unenforced ? fmt::format(" ({} control(s) not enforced by it, marked below)", unenforced)
                   : std::string());
  }
  return out;
}

std::string render_checks(const Plan& plan) {
  TextTable checks({"id", "status", "where", "message"}, 48);
  for (const auto& c : plan.checks) {
    checks.add_row({c.id, std::string(check_status_name(c.status)), where(c), c.message});
  }
  return "checks\n" + checks.render() + "\n";
}

std::string render_topology(const Plan& plan) {
  std::string out = "topology: components\n";
  TextTable components({"id", "kind", "runs on", "trust zone", "detail"}, 40);
  for (const auto& c : plan.components) {
    components.add_row({c.id, c.kind, c.runs_on, c.trust_zone, c.detail});
  }
  out += components.render() + "\n";

  out += "topology: links\n";
  TextTable links({"from", "to", "kind", "runs on", "trust zone"}, 40);
  for (const auto& l : plan.links) links.add_row({l.from, l.to, l.kind, l.runs_on, l.trust_zone});
  out += links.render() + "\n";
  return out;
}

std::string render_execution_path(const Plan& plan) {
  TextTable path({"#", "step", "component", "action", "controls"}, 44);
  path.right_align(0);
  int n = 0;
  for (const auto& s : plan.execution_path) {
    path.add_row({std::to_string(++n), s.id, s.component, s.action,
                  fmt::format("{}", fmt::join(s.controls, ", "))});
  }
  return "execution path\n" + path.render() + "\n";
}

// A control this build does not enforce says so, with its gap, before what was planned.
std::string render_controls(const Plan& plan) {
  TextTable controls({"id", "kind", "enforced by", "spec"}, 56);
  for (const auto& c : plan.controls) {
    controls.add_row(
        {c.id, c.kind,
         c.enforced ? c.enforced_by
         : !plan.runtime_built
             ? fmt::format("NOT ENFORCED (runtime not built); planned: {}", c.enforced_by)
             : fmt::format("NOT ENFORCED ({}); planned: {}", c.gap, c.enforced_by),
         c.spec_path});
  }
  return "controls\n" + controls.render() + "\n";
}

std::string render_metrics(const Plan& plan) {
  TextTable metrics({"name", "kind", "unit", "source"});
  for (const auto& m : plan.metrics) metrics.add_row({m.name, m.kind, m.unit, m.source});
  return "metrics\n" + metrics.render() + "\n";
}

std::string render_failure_plan(const Plan& plan) {
  TextTable failures(
      {"fault", "declared", "detection", "response", "recovery", "evidence", "injection"}, 30);
  for (const auto& f : plan.failure_plan) {
    failures.add_row(
        {f.fault, f.declared ? "yes" : "implied", f.detection, f.response, f.recovery, f.evidence,
         f.tested_by.empty() ? std::string("not injected")
                             : fmt::format("tested by {}", fmt::join(f.tested_by, "; "))});
  }
  return "failure plan\n" + failures.render() + "\n";
}

std::string render_refusals(const Plan& plan) {
  std::string out = "refuses to own\n";
  for (const auto& r : plan.refuses_to_own) out += "  - " + r + "\n";
  return out;
}

}  // namespace

std::string render_plan_text(const Plan& plan) {
  return render_header(plan) + render_checks(plan) + render_topology(plan) +
         render_execution_path(plan) + render_controls(plan) + render_metrics(plan) +
         render_failure_plan(plan) + render_refusals(plan);
}

std::string render_plan_json(const Plan& plan) {
  Json j;
  j["scenario"] = plan.scenario;
  j["name"] = plan.name;
  j["accepted"] = plan.accepted;
  j["runtime"] = plan.runtime_built ? "built" : "not built";
  if (plan.runtime_built) j["runtime_command"] = plan.runtime;
  Json components = Json::array(), links = Json::array();
  for (const auto& c : plan.components) {
    components.push_back({{"id", c.id}, {"kind", c.kind}, {"runs_on", c.runs_on},
                          {"trust_zone", c.trust_zone}, {"detail", c.detail}});
  }
  for (const auto& l : plan.links) {
    links.push_back({{"id", l.id}, {"kind", l.kind}, {"from", l.from}, {"to", l.to},
                     {"runs_on", l.runs_on}, {"trust_zone", l.trust_zone}});
  }
  j["topology"] = {{"components", components}, {"links", links}};
  j["execution_path"] = Json::array();
  for (const auto& s : plan.execution_path) {
    j["execution_path"].push_back(
        {{"id", s.id}, {"component", s.component}, {"action", s.action}, {"controls", s.controls}});
  }
  j["controls"] = Json::array();
  for (const auto& c : plan.controls) {
    Json control = {{"id", c.id},
                    {"kind", c.kind},
                    {"enforced_by", c.enforced_by},
                    {"spec_path", c.spec_path},
                    {"enforced", c.enforced}};
    if (!c.enforced) control["gap"] = c.gap;
    j["controls"].push_back(std::move(control));
  }
  j["metrics"] = Json::array();
  for (const auto& m : plan.metrics) {
    j["metrics"].push_back(
        {{"name", m.name}, {"unit", m.unit}, {"kind", m.kind}, {"source", m.source}});
  }
  j["failure_plan"] = Json::array();
  for (const auto& f : plan.failure_plan) {
    j["failure_plan"].push_back({{"fault", f.fault},
                                 {"detection", f.detection},
                                 {"response", f.response},
                                 {"recovery", f.recovery},
                                 {"evidence", f.evidence},
                                 {"declared", f.declared},
                                 {"injected", !f.tested_by.empty()},
                                 {"tested_by", f.tested_by}});
  }
  j["refuses_to_own"] = plan.refuses_to_own;
  j["checks"] = Json::array();
  for (const auto& c : plan.checks) {
    Json check = {{"id", c.id}, {"status", std::string(check_status_name(c.status))},
                  {"message", c.message}, {"spec_path", c.spec_path}};
    if (c.line > 0) check["line"] = c.line;
    j["checks"].push_back(std::move(check));
  }
  return dump_json(j, 2);
}

}  // namespace keel::contract
