#include "agent/agent_deployment.h"

#include <fmt/format.h>

#include <filesystem>

#include "agent/case_resolution.h"
#include "agent/single_call.h"
#include "contract/checks.h"
#include "core/log.h"

namespace keel::agent {
namespace {

Result<std::string> component_path(const contract::Spec& spec, const std::string& id, const std::string& state_dir) {
  const contract::Component* c = spec.find_component(id);
  if (!c) return Status::failed_precondition(fmt::format("the spec names component {} but does not declare it", id));
  if (c->kind != contract::ComponentKind::sqlite) {
    return Status::unimplemented(fmt::format("component {} is {}; this build serves it only as sqlite", id,
                                             contract::enum_name(c->kind)));
  }
  if (c->path.empty()) return Status::failed_precondition(fmt::format("component {} has no path", id));
  std::string path = state_dir.empty() ? contract::resolve_spec_path(spec, c->path)
                                       : (std::filesystem::path(state_dir) / std::filesystem::path(c->path).filename()).string();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  return path;
}

}  // namespace

Result<std::unique_ptr<AgentDeployment>> AgentDeployment::open(const contract::Spec& spec, const AgentDeploymentOptions& options) {
  if (spec.scenario != contract::ScenarioId::durable_agent) {
    return Status::invalid_argument(fmt::format("{} is a {} spec; `keel agent` runs durable-agent specs", spec.name,
                                                contract::enum_name(spec.scenario)));
  }
  auto d = std::unique_ptr<AgentDeployment>(new AgentDeployment());

  // Journal.
  std::string journal = options.journal;
  if (journal.empty()) {
    const contract::Component* j = spec.find_component("journal");
    if (!j) return Status::failed_precondition("the spec declares no `journal` component (sqlite path or postgresql url)");
    if (j->kind == contract::ComponentKind::postgresql) {
      journal = j->url;
    } else {
      KEEL_ASSIGN_OR_RETURN(journal, component_path(spec, "journal", options.state_dir));
    }
  }
  KEEL_ASSIGN_OR_RETURN(d->journal_, open_journal(journal));

  // Memory.
  if (spec.authority.memory.writes == contract::MemoryWrites::explicit_writes && spec.authority.memory.store) {
    KEEL_ASSIGN_OR_RETURN(std::string path, component_path(spec, *spec.authority.memory.store, options.state_dir));
    KEEL_ASSIGN_OR_RETURN(d->memory_, MemoryStore::open(path));
    for (auto& t : d->memory_->tools()) KEEL_RETURN_IF_ERROR(d->tools_.add(t));
  }

  // System of record.
  const contract::Component* sor = spec.authority.system_of_record ? spec.find_component(*spec.authority.system_of_record) : nullptr;
  if (sor && sor->kind != contract::ComponentKind::mcp_server) {  // an MCP server's tools arrive as extra_tools
    KEEL_ASSIGN_OR_RETURN(std::string path, component_path(spec, *spec.authority.system_of_record, options.state_dir));
    KEEL_ASSIGN_OR_RETURN(d->order_system_, SampleOrderSystem::open(path));
    for (auto& t : d->order_system_->tools()) KEEL_RETURN_IF_ERROR(d->tools_.add(t));
  }
  for (const auto& t : options.extra_tools) {
    // Keel's own stores (memory) stay local even when an outside server offers the same tool.
    if (d->tools_.find(t->definition().name)) {
      log_info("agent: {} is provided locally; the one from {} is not used", t->definition().name, t->definition().system);
      continue;
    }
    KEEL_RETURN_IF_ERROR(d->tools_.add(t));
  }
  KEEL_RETURN_IF_ERROR(d->tools_.check_against(spec));
  KEEL_ASSIGN_OR_RETURN(d->policy_, Policy::from_spec(spec));
  d->workflows_.add(case_resolution_workflow());
  d->workflows_.add(single_call_workflow());

  // Model.
  const contract::ModelSpec* generate = nullptr;
  for (const auto& m : spec.deployment.models) {
    if (m.role == contract::ModelRole::generate) {
      generate = &m;
      break;
    }
  }
  if (!options.model_url.empty()) {
    d->model_ = make_openai_model(options.model_url, !options.model_name.empty() ? options.model_name : generate ? generate->id : "default",
                                  options.model_api_key);
  } else if (generate && generate->runs == contract::ModelPlacement::remote) {
    d->model_ = make_openai_model(generate->url, generate->id, options.model_api_key);
  } else if (generate) {
    d->model_ = make_in_process_model(contract::resolve_spec_path(spec, generate->path), generate->id);
  }

  for (const auto& p : spec.authority.principals) {
    if (!d->policy_.may_approve(p.id)) {
      d->default_principal_ = p.id;
      break;
    }
  }
  d->runner_ = std::make_unique<CaseRunner>(*d->journal_, d->tools_, d->policy_, d->workflows_, d->model_.get(), options.runner);
  return d;
}

}  // namespace keel::agent
