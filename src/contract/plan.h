// The runtime plan: what a spec turns into before anything runs — the topology, the ordered
// execution path, the controls that enforce the contract, the metrics that measure it, the
// failure/recovery plan, and what the deployment refuses to own.
//
// Contract:
// - build_plan() is a pure function of the spec and its check results (no I/O); each of the
//   seven scenarios yields its own topology, path, controls and metrics.
// - Every step's controls name controls in `controls`; every link names components in the
//   topology (tests hold the plan to this).
// - A plan is built even when checks fail, so `keel plan` can show what would have run.
// - Nothing in a plan is canned: a control, refusal or failure response appears only when the
//   spec asks for it and says what the spec says (tests/contract/plan_property_test.cpp mutates
//   each field a plan reads and checks that the plan follows).
// - A plan says what enforces it in this build: `runtime` names the command that runs the
//   scenario, or is "not built" (then every control is `enforced: false`); a control the built
//   runtime does not implement is `enforced: false` with the gap in words.
// - A failure response is `tested_by` the tests of contract/fault_injections.h that inject the
//   fault into this scenario's runtime; without one it is not injected, declared or not.
#pragma once

#include <string>
#include <vector>

#include "contract/checks.h"
#include "contract/spec.h"

namespace keel::contract {

struct PlanComponent {
  std::string id;
  std::string kind;        //!< e.g. "model", "index", "gateway", "journal"
  std::string runs_on;     //!< e.g. "user-desktop", "browser-worker", "k8s-pod"
  std::string trust_zone;  //!< e.g. "device", "tenant-cluster", "public-internet"
  std::string detail;      //!< one line for people (model file, store path, ...)
};

struct PlanLink {
  std::string id;
  std::string kind;        //!< e.g. "in-process", "http-loopback", "sql", "https"
  std::string from;        //!< component id
  std::string to;          //!< component id
  std::string runs_on;     //!< the medium: "process", "loopback", "lan", "internet"
  std::string trust_zone;  //!< the zone it lives in, or "a -> b" when it crosses zones
};

struct PlanStep {
  std::string id;
  std::string component;
  std::string action;
  std::vector<std::string> controls;  //!< control ids
};

struct PlanControl {
  std::string id;
  std::string kind;  //!< egress, read-only, permission, approval, idempotency, admission, ...
  std::string enforced_by;  //!< the mechanism (planned, when not enforced)
  std::string spec_path;
  bool enforced = true;  //!< false: nothing in this build enforces it yet
  std::string gap;       //!< why not, when not enforced
};

struct PlanMetric {
  std::string name;  //!< Prometheus name
  std::string unit;
  std::string kind;    //!< counter | gauge | histogram
  std::string source;  //!< component that emits it
};

struct FailureResponse {
  std::string fault;
  std::string detection;
  std::string response;
  std::string recovery;
  std::string evidence;   //!< what proves it happened as planned (metric, journal, test)
  bool declared = false;  //!< listed in failure.inject (otherwise implied by the policy)
  //! Tests that inject this fault into this scenario's runtime ("file Suite.Name"); empty:
  //! not injected.
  std::vector<std::string> tested_by;
};

struct Plan {
  std::string scenario;
  std::string name;
  std::vector<PlanComponent> components;
  std::vector<PlanLink> links;
  std::vector<PlanStep> execution_path;
  std::vector<PlanControl> controls;
  std::vector<PlanMetric> metrics;
  std::vector<FailureResponse> failure_plan;
  std::vector<std::string> refuses_to_own;
  std::vector<CheckResult> checks;
  bool accepted = false;  //!< no check failed
  bool runtime_built = false;  //!< a keel command runs this scenario
  std::string runtime;         //!< that command ("keel run SPEC", ...), or "not built"
};

//! Whether this build has a runtime for the scenario, and the command that runs it.
bool runtime_built(ScenarioId scenario);
std::string runtime_command(ScenarioId scenario);

Plan build_plan(const Spec& spec, std::vector<CheckResult> checks);

}  // namespace keel::contract
