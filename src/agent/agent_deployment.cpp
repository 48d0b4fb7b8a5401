#include "agent/agent_deployment.h"

#include <fmt/format.h>

#include <filesystem>

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

Result<std::string> journal_location(const contract::Spec& spec, const AgentDeploymentOptions& options) {
  if (!options.journal.empty()) return options.journal;
  const contract::Component* j = spec.find_component("journal");
  if (!j) return Status::failed_precondition("the spec declares no `journal` component (sqlite path or postgresql url)");
  if (j->kind == contract::ComponentKind::postgresql) return j->url;
  return component_path(spec, "journal", options.state_dir);
}

// The system of record through the provider its component names; null when there is none, or
// when it is an MCP server (whose tools arrive as extra_tools).
Result<std::shared_ptr<SystemOfRecord>> open_system_of_record(const contract::Spec& spec,
                                                              const AgentDeploymentOptions& options) {
  const contract::Component* sor =
      spec.authority.system_of_record ? spec.find_component(*spec.authority.system_of_record) : nullptr;
  if (!sor || sor->kind == contract::ComponentKind::mcp_server) return std::shared_ptr<SystemOfRecord>();
  if (sor->provider.empty()) {
    return Status::failed_precondition(fmt::format(
        "the system of record {} names no provider: Keel does not guess the schema of a {} it did not create. "
        "Name the provider that serves it (components: provider:), or serve its tools over MCP (kind: mcp-server)",
        sor->id, contract::enum_name(sor->kind)));
  }
  if (!options.catalog) {
    return Status::failed_precondition(
        fmt::format("the system of record {} names provider {}, and this program registers none", sor->id, sor->provider));
  }
  KEEL_ASSIGN_OR_RETURN(const SystemOfRecordProvider* provider, options.catalog->provider(sor->provider));
  KEEL_ASSIGN_OR_RETURN(std::string path, component_path(spec, sor->id, options.state_dir));
  return (*provider)(path);
}

// The workflows cases may be pinned to (single-call and the catalog's), and the one the spec
// names for new cases ("" when it names none).
Result<std::string> register_workflows(const contract::Spec& spec, const Catalog* catalog, WorkflowRegistry& workflows) {
  workflows.add(single_call_workflow());
  if (catalog) {
    for (const auto& w : catalog->workflows()) workflows.add(w);
  }
  const std::string& named = spec.authority.workflow;
  if (named.empty() || named == kSingleCallWorkflow || (catalog && catalog->has_workflow(named))) return named;
  return Status::failed_precondition(fmt::format("the spec's workflow {} is not registered in this program (it has: {})",
                                                 named, catalog ? catalog->workflow_names() : std::string("none")));
}

// The spec's generate model: an endpoint given on the command line, a remote one, or in-process.
std::unique_ptr<ModelClient> open_model(const contract::Spec& spec, const AgentDeploymentOptions& options) {
  const contract::ModelSpec* generate = nullptr;
  for (const auto& m : spec.deployment.models) {
    if (m.role == contract::ModelRole::generate) {
      generate = &m;
      break;
    }
  }
  if (!options.model_url.empty()) {
    std::string name = !options.model_name.empty() ? options.model_name : generate ? generate->id : "default";
    return make_openai_model(options.model_url, name, options.model_api_key);
  }
  if (!generate) return nullptr;
  if (generate->runs == contract::ModelPlacement::remote) {
    return make_openai_model(generate->url, generate->id, options.model_api_key);
  }
  return make_in_process_model(contract::resolve_spec_path(spec, generate->path), generate->id);
}

}  // namespace

Result<std::unique_ptr<AgentDeployment>> AgentDeployment::open(const contract::Spec& spec, const AgentDeploymentOptions& options) {
  if (spec.scenario != contract::ScenarioId::durable_agent) {
    return Status::invalid_argument(fmt::format("{} is a {} spec; `keel agent` runs durable-agent specs", spec.name,
                                                contract::enum_name(spec.scenario)));
  }
  auto d = std::unique_ptr<AgentDeployment>(new AgentDeployment());
  KEEL_ASSIGN_OR_RETURN(std::string journal, journal_location(spec, options));
  KEEL_ASSIGN_OR_RETURN(d->journal_, open_journal(journal));

  // Tools: memory, the system of record, then outside ones (Keel's own stores stay local even
  // when an outside server offers the same tool).
  if (spec.authority.memory.writes == contract::MemoryWrites::explicit_writes && spec.authority.memory.store) {
    KEEL_ASSIGN_OR_RETURN(std::string path, component_path(spec, *spec.authority.memory.store, options.state_dir));
    KEEL_ASSIGN_OR_RETURN(d->memory_, MemoryStore::open(path));
    for (auto& t : d->memory_->tools()) KEEL_RETURN_IF_ERROR(d->tools_.add(t));
  }
  KEEL_ASSIGN_OR_RETURN(d->system_of_record_, open_system_of_record(spec, options));
  if (d->system_of_record_) {
    for (auto& t : d->system_of_record_->tools()) KEEL_RETURN_IF_ERROR(d->tools_.add(t));
  }
  for (const auto& t : options.extra_tools) {
    if (d->tools_.find(t->definition().name)) {
      log_info("agent: {} is provided locally; the one from {} is not used", t->definition().name, t->definition().system);
      continue;
    }
    KEEL_RETURN_IF_ERROR(d->tools_.add(t));
  }
  KEEL_RETURN_IF_ERROR(d->tools_.check_against(spec));

  KEEL_ASSIGN_OR_RETURN(d->policy_, Policy::from_spec(spec));
  KEEL_ASSIGN_OR_RETURN(d->default_workflow_, register_workflows(spec, options.catalog, d->workflows_));
  d->model_ = open_model(spec, options);
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
