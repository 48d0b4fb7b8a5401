// What an agent deployment is built from, by name: the workflows it can run and the providers
// that serve a system of record. The agent layer ships none of the business ones (a workflow for
// refunds, an order system): an application registers its own, and a spec names which to use
// (`authority.workflow`, a component's `provider`). The `keel` command registers the examples'
// samples (examples/samples/).
//
// Contract: names are unique (a second registration under a name replaces nothing and is an
// error); a provider opens the system of record at a path the deployment resolved, and must
// never write its own schema into a database it did not create.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/tool.h"
#include "agent/workflow.h"
#include "core/result.h"

namespace keel::agent {

//! A business system the agent acts on, as the tools it offers.
class SystemOfRecord {
 public:
  virtual ~SystemOfRecord() = default;
  virtual std::vector<std::shared_ptr<Tool>> tools() = 0;
};

//! Opens a provider's system of record at `path` (a component's resolved location).
using SystemOfRecordProvider = std::function<Result<std::shared_ptr<SystemOfRecord>>(const std::string& path)>;

class Catalog {
 public:
  [[nodiscard]] Status add_workflow(WorkflowDefinition definition);
  [[nodiscard]] Status add_provider(const std::string& name, SystemOfRecordProvider open);

  const std::vector<WorkflowDefinition>& workflows() const { return workflows_; }
  bool has_workflow(const std::string& name) const;
  //! The provider registered under `name`; not_found lists the ones there are.
  [[nodiscard]] Result<const SystemOfRecordProvider*> provider(const std::string& name) const;
  //! "a, b" for messages; "none" when empty.
  std::string workflow_names() const;

 private:
  std::vector<WorkflowDefinition> workflows_;
  std::map<std::string, SystemOfRecordProvider> providers_;
};

}  // namespace keel::agent
