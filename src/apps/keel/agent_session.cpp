#include "apps/keel/agent_session.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/keel/example_paths.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "mcp/mcp_client.h"
#include "samples/samples.h"

namespace keel::app {

void add_agent_options(CLI::App* cmd, AgentOptions& o, Verb verb) {
  cmd->add_option("--spec", o.spec,
                  "durable-agent spec (default: $KEEL_AGENT_SPEC, else examples/durable-agent.yaml here or "
                  "beside the build)");
  cmd->add_option("--state-dir", o.deployment.state_dir, "keep SQLite components (journal, memory, order system) here");
  cmd->add_option("--journal", o.deployment.journal, "journal location: a SQLite file or a postgresql:// URI");
  if (verb == Verb::runs_cases) {
    cmd->add_option("--model-url", o.deployment.model_url, "OpenAI-compatible endpoint (…/v1) instead of the spec's model");
    cmd->add_option("--model-name", o.deployment.model_name, "model name at --model-url");
    cmd->add_option("--lease-s", o.deployment.runner.lease_s, "seconds a worker holds a case between renewals")
        ->check(CLI::Range(1.0, 86400.0));
  }
  cmd->add_flag("--json", o.json, "print JSON");
}

std::string default_agent_spec() {
  if (const char* env = std::getenv("KEEL_AGENT_SPEC"); env && *env) return env;
  return bundled_example("examples/durable-agent.yaml");
}

bool AgentSession::fail(const std::string& message, int code) {
  std::fprintf(stderr, "keel agent %s: %s\n", verb_.c_str(), message.c_str());
  exit_code_ = code;
  return false;
}

bool AgentSession::fail(const Status& s) {
  int code = s.code() == StatusCode::permission_denied ? 2 : s.code() == StatusCode::unavailable ? 3 : 1;
  return fail(s.message(), code);
}

std::string AgentSession::deployment_flags() const {
  std::string out;
  if (spec_path_ != "examples/durable-agent.yaml" && !std::getenv("KEEL_AGENT_SPEC")) out += " --spec " + spec_path_;
  if (!o_.deployment.state_dir.empty()) out += " --state-dir " + o_.deployment.state_dir;
  if (!o_.deployment.journal.empty()) out += " --journal " + o_.deployment.journal;
  return out;
}

bool AgentSession::open() {
  std::string path = o_.spec.empty() ? default_agent_spec() : o_.spec;
  spec_path_ = path;
  auto spec = contract::load_spec(path);
  if (!spec.ok()) return fail(spec.status().message() + " (pass --spec)");
  std::vector<std::string> failed;
  for (const auto& c : contract::run_checks(*spec)) {
    if (c.status == contract::CheckStatus::fail) failed.push_back(c.id + " " + c.message);
  }
  if (!failed.empty()) return fail("the spec is refused: " + failed.front(), 2);
  if (spec->deployment.egress.none) {
    if (!o_.deployment.model_url.empty()) {
      return fail("the spec says egress: none, so no model endpoint may be called; allow its host in deployment.egress", 2);
    }
    // A PostgreSQL journal is reached over its Unix socket; nothing else may be.
    Status guard = contract::install_egress_guard(contract::guard_profile_for_store(o_.deployment.journal));
    if (!guard.ok()) return fail(guard.message());
  } else {
    if (!o_.deployment.model_url.empty() && !spec->deployment.egress.allows(o_.deployment.model_url)) {
      return fail(fmt::format("--model-url {} is outside the spec's egress allow-list; add its host to "
                              "deployment.egress.allow",
                              o_.deployment.model_url),
                  2);
    }
    // Every connection this process opens (the model endpoint, outside MCP servers) is held to
    // the spec's allow-list.
    contract::restrict_egress_to({&*spec});
  }
  spec_ = std::move(*spec);
  auto remote = mcp::connect_mcp_tools(spec_);
  if (!remote.ok()) return fail(remote.status());
  o_.deployment.extra_tools = std::move(*remote);
  o_.deployment.catalog = &samples::sample_catalog();
  auto d = agent::AgentDeployment::open(spec_, o_.deployment);
  if (!d.ok()) return fail(d.status());
  deployment_ = std::move(*d);
  return true;
}

void AgentSession::print_outcome(const std::string& case_id, const agent::RunOutcome& out) {
  if (o_.json) {
    Json j = {{"case", case_id}, {"state", agent::case_state_name(out.state)}, {"paused", out.paused}, {"message", out.message},
              {"new_steps", out.new_steps}, {"replayed_steps", out.replayed_steps}};
    if (out.pending_step >= 0) j["pending_step"] = out.pending_step;
    if (out.state == agent::CaseState::completed) j["result"] = out.result;
    std::printf("%s\n", dump_json(j, 2).c_str());
  } else {
    std::printf("%s (%lld new step(s), %lld from the journal)\n", out.message.c_str(), static_cast<long long>(out.new_steps),
                static_cast<long long>(out.replayed_steps));
    if (out.state == agent::CaseState::completed) std::printf("result: %s\n", dump_json(out.result, 2).c_str());
    if (out.state == agent::CaseState::waiting_approval) {
      const std::string flags = deployment_flags();
      std::printf("see it with `keel agent pending%s`, then `keel agent approve %s %lld --key <approver key> "
                  "--args-sha256 <hash>%s` (or deny) and `keel agent resume %s%s`\n",
                  flags.c_str(), case_id.c_str(), static_cast<long long>(out.pending_step), flags.c_str(),
                  case_id.c_str(), flags.c_str());
    }
  }
  exit_code_ = out.paused ? 3 : out.state == agent::CaseState::failed ? 1 : 0;
}

}  // namespace keel::app
