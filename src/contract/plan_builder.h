// Internal to contract/: the helper that plan.cpp and scenario_plans.cpp use to assemble a
// Plan. Not for other layers (they read the finished Plan from plan.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "contract/plan.h"

namespace keel::contract {

class PlanBuilder {
 public:
  explicit PlanBuilder(const Spec& spec);

  const Spec& spec() const { return spec_; }

  //! Adds a component (ids are unique; a second add with the same id is ignored).
  void component(std::string id, std::string kind, std::string runs_on, std::string trust_zone,
                 std::string detail = {});
  //! Adds a link; its trust zone is derived from the two components' zones.
  void link(const std::string& from, const std::string& to, std::string kind,
            std::string runs_on);
  //! Control ids the spec does not produce are dropped by finish().
  void step(std::string id, std::string component, std::string action,
            std::vector<std::string> controls);
  void control(std::string id, std::string kind, std::string enforced_by, std::string spec_path);
  //! Marks a control as not enforced by this build, with the reason (ignored for unknown ids).
  void not_enforced(std::string_view id, std::string gap);
  void metric(std::string name, std::string unit, std::string kind, std::string source);
  void refuse(std::string what);

  bool has_component(std::string_view id) const;
  bool has_control(std::string_view id) const;
  //! Whether this build has a runtime for the spec's scenario (plan.h runtime_built()).
  bool runtime_built() const { return contract::runtime_built(spec_.scenario); }

  // Stable ids of the controls every plan derives from the spec (see plan.cpp).
  std::string egress_control() const;
  std::string telemetry_control() const;
  std::string remote_fallback_control() const;
  std::string retention_control() const;
  std::string memory_control() const;
  //! model-fit:<id> plus content-address:<id> when the model pins a hash.
  std::vector<std::string> model_controls(const ModelSpec& model) const;
  //! permission:, approval: (if any), idempotency: (if required), outcome-check: (if writing).
  std::vector<std::string> tool_controls(const Tool& tool) const;
  std::vector<std::string> read_only_source_controls() const;

  //! Component id for a model ("model:<id>").
  static std::string model_component(const ModelSpec& model) { return "model:" + model.id; }
  //! The first local model with this role, or null.
  const ModelSpec* model_with_role(ModelRole role) const;
  //! Adds every declared model as a component placed on `runs_on` in `trust_zone` (remote
  //! models go to the private cloud) and returns their ids.
  std::vector<std::string> add_models(const std::string& runs_on, const std::string& trust_zone);
  //! Adds the spec's explicit components (stores, services) as topology components.
  void add_declared_components(const std::string& runs_on, const std::string& trust_zone);

  Plan finish(std::vector<CheckResult> checks);

 private:
  const Spec& spec_;
  Plan plan_;
};

// One function per scenario (scenario_plans.cpp): topology, path, scenario controls, metrics,
// refusals. Common controls already exist when they run.
void plan_local_research(PlanBuilder& b);
void plan_enterprise_rag(PlanBuilder& b);
void plan_browser_classifier(PlanBuilder& b);
void plan_mobile_vision(PlanBuilder& b);
void plan_llm_service(PlanBuilder& b);
void plan_durable_agent(PlanBuilder& b);
void plan_hybrid_field(PlanBuilder& b);

// faults.cpp: how a scenario detects, answers and recovers from a fault.
FailureResponse plan_fault(Fault fault, const Spec& spec);

}  // namespace keel::contract
