// keel agent run SPEC --case ID [--input FILE]   start a case and run it
// keel agent resume CASE                         continue a case from its journal
// keel agent work [--max-cases N]                claim and run runnable cases (a worker)
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "apps/keel/agent_session.h"
#include "apps/keel/commands.h"
#include "core/json.h"
#include "samples/samples.h"

namespace keel::app {

namespace {

void add_run_verb(CLI::App& agent, int& exit_code) {
  struct O : AgentOptions {
    std::string case_id, input, as, workflow;
    int64_t max_steps = -1;
  };
  auto o = std::make_shared<O>();
  auto* cmd = agent.add_subcommand("run", "Start a case and run it until it completes, waits or pauses");
  cmd->add_option("spec", o->spec, "durable-agent spec")->required();
  cmd->add_option("--case", o->case_id, "case id (the sample order system has CASE-1 … CASE-5)")->required();
  cmd->add_option("--input", o->input, "JSON file with the case input (default: {\"case_id\": ID})");
  cmd->add_option("--as", o->as, "principal the case acts for (default: the first non-approver)");
  cmd->add_option("--max-steps", o->max_steps, "pause after this many new steps (to inspect or inject faults)");
  add_agent_options(cmd, *o, Verb::runs_cases);
  cmd->callback([o, &exit_code] {
    AgentSession s("run", *o, exit_code);
    o->deployment.runner.max_new_steps = o->max_steps;
    if (!s.open()) return;
    Json input = {{"case_id", o->case_id}};
    if (!o->input.empty()) {
      std::ifstream in(o->input);
      if (!in) return (void)s.fail("cannot read " + o->input);
      std::stringstream ss;
      ss << in.rdbuf();
      auto j = parse_json(ss.str());
      if (!j.ok() || !j->is_object()) return (void)s.fail(o->input + ": the input must be a JSON object");
      input = *j;
    }
    if (s.d().default_workflow().empty()) {
      return (void)s.fail("the spec names no workflow for its cases (authority.workflow; this keel has: " +
                          samples::sample_catalog().workflow_names() + ")");
    }
    std::string principal = o->as.empty() ? s.d().default_principal() : o->as;
    auto out = s.d().runner().start(o->case_id, s.d().default_workflow(), input, principal);
    if (!out.ok()) {
      if (out.status().code() == StatusCode::already_exists) {
        return (void)s.fail(out.status().message() + "; continue it with `keel agent resume " + o->case_id +
                            s.deployment_flags() + "`");
      }
      return (void)s.fail(out.status());
    }
    s.print_outcome(o->case_id, *out);
  });
}

void add_resume_verb(CLI::App& agent, int& exit_code) {
  struct O : AgentOptions {
    std::string case_id;
    int64_t max_steps = -1;
  };
  auto o = std::make_shared<O>();
  auto* cmd = agent.add_subcommand("resume", "Continue a case from its journal");
  cmd->add_option("case", o->case_id, "case id")->required();
  cmd->add_option("--max-steps", o->max_steps, "pause after this many new steps");
  add_agent_options(cmd, *o, Verb::runs_cases);
  cmd->callback([o, &exit_code] {
    AgentSession s("resume", *o, exit_code);
    o->deployment.runner.max_new_steps = o->max_steps;
    if (!s.open()) return;
    auto out = s.d().runner().resume(o->case_id);
    if (!out.ok()) return (void)s.fail(out.status());
    s.print_outcome(o->case_id, *out);
  });
}

void add_work_verb(CLI::App& agent, int& exit_code) {
  struct O : AgentOptions {
    int64_t max_cases = -1;
  };
  auto o = std::make_shared<O>();
  auto* cmd = agent.add_subcommand("work", "Claim runnable cases (free or expired lease) and run them");
  cmd->add_option("--max-cases", o->max_cases, "stop after this many cases");
  add_agent_options(cmd, *o, Verb::runs_cases);
  cmd->callback([o, &exit_code] {
    AgentSession s("work", *o, exit_code);
    if (!s.open()) return;
    auto n = s.d().runner().work(o->max_cases);
    if (!n.ok()) return (void)s.fail(n.status());
    if (o->json) {
      std::printf("%s\n", dump_json(Json{{"cases_run", *n}}).c_str());
    } else {
      std::printf("ran %lld case(s)\n", static_cast<long long>(*n));
    }
    exit_code = 0;
  });
}

}  // namespace

void add_agent_run_commands(CLI::App& agent, int& exit_code) {
  add_run_verb(agent, exit_code);
  add_resume_verb(agent, exit_code);
  add_work_verb(agent, exit_code);
}

}  // namespace keel::app
