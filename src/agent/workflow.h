// Workflows: the code of a case, written as a plain function over a WorkflowContext. Each call
// it makes through the context (a tool, the model) is a numbered step that is journaled: an
// intent before any side effect, an outcome after it. When a case resumes, the function runs
// again from the top and every step that already has an outcome returns the recorded result
// without executing anything, so completed steps never run twice. The function must therefore
// be deterministic given its step results (Temporal's rule): no clocks, no random numbers, no
// reading outside the context.
//
// A step that needs a human suspends the case: the call returns the `suspended` status, the
// function returns it, and the case waits durably (no thread, no process) until an approval
// or a denial is journaled.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/journal.h"
#include "agent/model_client.h"
#include "core/result.h"

namespace keel::agent {

//! What the reviewer of an approval sees besides the arguments.
struct StepEvidence {
  std::string reason;  //!< why the case wants this action (the model's stated reason)
};

class WorkflowContext {
 public:
  virtual ~WorkflowContext() = default;
  virtual const CaseInfo& case_info() const = 0;
  const nlohmann::json& input() const { return case_info().input; }

  //! The case's state as policy conditions see it (`case.*`). The workflow keeps it up to date
  //! from step results only, so it is the same on every replay.
  virtual nlohmann::json& state() = 0;

  //! Calls a tool as a journaled step. permission_denied when the policy forbids it or an
  //! approver denied it; suspended (see is_suspended) while an approval is pending.
  [[nodiscard]] virtual Result<nlohmann::json> call_tool(const std::string& tool, const nlohmann::json& args,
                                                         const StepEvidence& evidence = {}) = 0;
  //! Calls the model as a journaled step (side-effect free: re-run if its outcome is missing).
  [[nodiscard]] virtual Result<ModelReply> call_model(const std::string& purpose, const ModelRequest& request) = 0;
};

//! The status a suspended step returns; workflows pass it up unchanged.
Status suspended_status(int64_t step);
bool is_suspended(const Status& s);

struct WorkflowDefinition {
  std::string name;
  int version = 1;
  std::string description;
  std::function<Result<nlohmann::json>(WorkflowContext&)> run;
};

class WorkflowRegistry {
 public:
  void add(WorkflowDefinition definition);
  //! The definition a case is pinned to; not_found names the versions this build has.
  [[nodiscard]] Result<const WorkflowDefinition*> find(const std::string& name, int version) const;
  [[nodiscard]] Result<const WorkflowDefinition*> latest(const std::string& name) const;

 private:
  std::map<std::pair<std::string, int>, WorkflowDefinition> definitions_;
};

}  // namespace keel::agent
