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
  std::string enforced_by;
  std::string spec_path;
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
  bool injected = false;  //!< listed in failure.inject (otherwise implied by the policy)
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
};

Plan build_plan(const Spec& spec, std::vector<CheckResult> checks);

}  // namespace keel::contract
