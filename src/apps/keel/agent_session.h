// What every `keel agent` verb shares: its options (the deployment's flags), opening the
// deployment from the spec under the spec's egress guard, failing with the verb's exit codes,
// and the hints that name the deployment so a pasted command works.
//
// Exit codes: 0 done (completed, or waiting for an approval), 1 error or failed case, 2 the
// contract refused (spec checks, policy, approver not allowed), 3 paused (a dependency is down
// or a step limit was reached: run `keel agent resume` later).
#pragma once

#include <memory>
#include <string>

#include "agent/agent_deployment.h"
#include "contract/spec.h"
#include "core/status.h"

namespace CLI {
class App;
}

namespace keel::app {

struct AgentOptions {
  std::string spec;
  agent::AgentDeploymentOptions deployment;
  bool json = false;
};

//! Whether a verb runs case steps (and so calls the model and holds leases) or only reads and
//! decides; the second kind does not offer the first kind's flags.
enum class Verb { runs_cases, reads };

//! --spec, --state-dir, --journal and --json; for verbs that run cases also --model-url,
//! --model-name and --lease-s.
void add_agent_options(CLI::App* cmd, AgentOptions& o, Verb verb);

//! The spec when --spec is not given: $KEEL_AGENT_SPEC, else the bundled example, looked for in
//! the working folder and then beside the build (`<repo>/build/keel` finds `<repo>/examples/...`).
std::string default_agent_spec();

class AgentSession {
 public:
  AgentSession(const std::string& verb, AgentOptions& o, int& exit_code) : verb_(verb), o_(o), exit_code_(exit_code) {}

  //! Prints "keel agent VERB: message", sets the exit code; returns false (for `return fail(..)`).
  bool fail(const std::string& message, int code = 1);
  bool fail(const Status& s);  //!< permission_denied exits 2, unavailable 3, anything else 1
  //! Loads and checks the spec, installs its egress guard, connects outside MCP tools and opens
  //! the deployment (with the examples' samples registered). False after reporting a failure.
  bool open();
  agent::AgentDeployment& d() { return *deployment_; }
  //! The flags that name this deployment, for the commands a hint tells the user to run next
  //! (" --spec S --state-dir D --journal J", each only when it is not the default).
  std::string deployment_flags() const;
  //! A run's outcome (JSON or text with the next commands), and its exit code.
  void print_outcome(const std::string& case_id, const agent::RunOutcome& out);

 private:
  std::string verb_;
  AgentOptions& o_;
  int& exit_code_;
  std::string spec_path_;
  contract::Spec spec_;
  std::unique_ptr<agent::AgentDeployment> deployment_;
};

//! `keel agent run`, `resume` and `work` (cmd_agent_run.cpp).
void add_agent_run_commands(CLI::App& agent, int& exit_code);
//! `keel agent pending`, `approve` and `deny` (cmd_agent_approve.cpp).
void add_agent_approval_commands(CLI::App& agent, int& exit_code);
//! `keel agent status`, `replay` and `stats` (cmd_agent_inspect.cpp).
void add_agent_inspect_commands(CLI::App& agent, int& exit_code);

}  // namespace keel::app
