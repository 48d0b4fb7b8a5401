// Everything a durable-agent deployment needs, opened from its spec: the journal (SQLite, or
// PostgreSQL by URI), agent memory, the system of record and its tools, the permission
// policy, the workflows, the model (in-process or an OpenAI-compatible endpoint) and the case
// runner over them.
//
// Components, by the spec: the journal is the component with id `journal`; memory is
// authority.memory.store; the system of record is authority.system_of_record, served by the
// provider its component names (`provider:`, looked up in the catalog) or, for kind mcp-server,
// by the tools that server offers (passed in as extra_tools). Cases run the workflow the spec
// names (authority.workflow), from the catalog; "single-call" is always there. A SQLite system of
// record without a provider is refused: Keel does not guess a schema, and seeds nothing. Paths
// resolve against the spec's folder, or against `state_dir` when given (tests and demos keep
// state out of the checkout).
#pragma once

#include <memory>
#include <string>

#include "agent/case_runner.h"
#include "agent/catalog.h"
#include "agent/journal.h"
#include "agent/memory_store.h"
#include "agent/model_client.h"
#include "agent/policy.h"
#include "agent/tool.h"
#include "agent/workflow.h"
#include "contract/spec.h"

namespace keel::agent {

struct AgentDeploymentOptions {
  std::string state_dir;   //!< SQLite components live here when set
  std::string journal;     //!< journal location override: a SQLite path or a postgresql:// URI
  std::string model_url;   //!< an OpenAI-compatible base URL (…/v1) instead of the spec's model
  std::string model_name;  //!< model name at that URL (default: the spec's generate model id)
  std::string model_api_key;
  RunnerOptions runner;
  //! Tools from elsewhere (e.g. outside MCP servers), registered before the spec check.
  std::vector<std::shared_ptr<Tool>> extra_tools;
  //! The workflows and system-of-record providers the spec may name; null: none but single-call.
  const Catalog* catalog = nullptr;
};

class AgentDeployment {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AgentDeployment>> open(const contract::Spec& spec,
                                                                     const AgentDeploymentOptions& options);

  CaseRunner& runner() { return *runner_; }
  JournalStore& journal() { return *journal_; }
  //! The system of record a provider opened; null when its tools come from elsewhere (MCP).
  SystemOfRecord* system_of_record() { return system_of_record_.get(); }
  const Policy& policy() const { return policy_; }
  const ToolRegistry& tools() const { return tools_; }
  const WorkflowRegistry& workflows() const { return workflows_; }
  //! The principal cases act for by default: the first one that is not an approver.
  const std::string& default_principal() const { return default_principal_; }
  //! The workflow the spec names (authority.workflow); "" when it names none.
  const std::string& default_workflow() const { return default_workflow_; }

 private:
  AgentDeployment() = default;
  std::unique_ptr<JournalStore> journal_;
  std::shared_ptr<MemoryStore> memory_;
  std::shared_ptr<SystemOfRecord> system_of_record_;
  ToolRegistry tools_;
  Policy policy_;
  WorkflowRegistry workflows_;
  std::unique_ptr<ModelClient> model_;
  std::unique_ptr<CaseRunner> runner_;
  std::string default_principal_;
  std::string default_workflow_;
};

}  // namespace keel::agent
