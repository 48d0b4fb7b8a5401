// keel agent: durable cases from a durable-agent spec. One file per group of verbs:
//   run, resume, work            cmd_agent_run.cpp
//   pending, approve, deny       cmd_agent_approve.cpp
//   status, replay, stats        cmd_agent_inspect.cpp
//   keygen                       cmd_agent_keygen.cpp
// What they share (options, opening the deployment, exit codes): agent_session.h.
#include <CLI/CLI.hpp>

#include "apps/keel/agent_session.h"
#include "apps/keel/commands.h"

namespace keel::app {

void add_agent_command(CLI::App& root, int& exit_code) {
  CLI::App* agent = root.add_subcommand("agent", "Durable case-resolution agent: run, resume, approve and audit cases");
  agent->require_subcommand(1);
  add_agent_keygen_command(*agent, exit_code);
  add_agent_run_commands(*agent, exit_code);
  add_agent_approval_commands(*agent, exit_code);
  add_agent_inspect_commands(*agent, exit_code);
}

}  // namespace keel::app
