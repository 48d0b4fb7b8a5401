// keel agent pending                              actions waiting for a human
// keel agent approve CASE STEP --key FILE --args-sha256 H [--reason TEXT]   signed; see agent/approval.h
// keel agent deny CASE STEP --key FILE [--args-sha256 H] [--reason TEXT]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "apps/keel/agent_session.h"
#include "apps/keel/commands.h"
#include "core/json.h"
#include "agent/approval.h"
#include "contract/spec.h"

namespace keel::app {
namespace {

void print_pending(const std::vector<agent::PendingApproval>& pending, bool json, const std::string& flags) {
  if (json) {
    Json out = Json::array();
    for (const auto& p : pending) {
      out.push_back({{"case", p.case_id}, {"step", p.step}, {"tool", p.tool}, {"args", p.args}, {"args_sha256", p.args_sha256},
                     {"why", p.reason}, {"evidence", p.evidence}, {"requested_unix_ns", p.requested_ns}});
    }
    std::printf("%s\n", dump_json(out, 2).c_str());
    return;
  }
  if (pending.empty()) {
    std::printf("nothing waits for approval\n");
    return;
  }
  for (const auto& p : pending) {
    std::printf("case %s, step %lld: %s\n", p.case_id.c_str(), static_cast<long long>(p.step), p.tool.c_str());
    std::printf("  arguments   %s\n", dump_json(p.args).c_str());
    std::printf("  args sha256 %s\n", p.args_sha256.c_str());
    std::printf("  why         %s\n", p.reason.c_str());
    if (!p.evidence.value("reason", "").empty()) std::printf("  reason      %s\n", p.evidence.value("reason", "").c_str());
    for (const auto& c : p.evidence.value("context", Json::array())) {
      std::printf("  evidence    step %lld %s (%s): %s\n", static_cast<long long>(c.value("step", 0)), c.value("tool", "").c_str(),
                  c.value("source", "").c_str(), dump_json(c.value("result", Json())).substr(0, 160).c_str());
    }
    std::printf("  approve:    keel agent approve %s %lld --key <approver key file> --args-sha256 %s%s\n", p.case_id.c_str(),
                static_cast<long long>(p.step), p.args_sha256.c_str(), flags.c_str());
  }
}

void add_pending_verb(CLI::App& agent, int& exit_code) {
  auto o = std::make_shared<AgentOptions>();
  auto* cmd = agent.add_subcommand("pending", "Actions waiting for a human, with their arguments and evidence");
  add_agent_options(cmd, *o, Verb::reads);
  cmd->callback([o, &exit_code] {
    AgentSession s("pending", *o, exit_code);
    if (!s.open()) return;
    auto p = s.d().runner().pending();
    if (!p.ok()) return (void)s.fail(p.status());
    print_pending(*p, o->json, s.deployment_flags());
    exit_code = 0;
  });
}

// The statement signed with the approver's key, or (where the spec allows unsigned approvals)
// as it is.
agent::ApprovalSubmission submission_of(agent::ApprovalStatement st, const std::optional<agent::ApproverKey>& key,
                                        const std::string& channel) {
  if (key) return agent::sign_approval(std::move(st), key->keys.secret_key, channel);
  agent::ApprovalSubmission submission;
  submission.statement = std::move(st);
  submission.channel = channel;
  return submission;
}

void add_decision_verb(CLI::App& agent, int& exit_code, bool approve) {
  struct O : AgentOptions {
    std::string case_id, by, key, args_sha256, reason;
    int64_t step = -1;
  };
  auto o = std::make_shared<O>();
  auto* cmd = agent.add_subcommand(
      approve ? "approve" : "deny",
      approve ? "Approve a pending action: signed with your key, bound to the arguments' hash you reviewed"
              : "Deny a pending action (signed with your key)");
  cmd->add_option("case", o->case_id, "case id")->required();
  cmd->add_option("step", o->step, "step number (see `keel agent pending`)")->required();
  cmd->add_option("--key", o->key, "your approver key file (`keel agent keygen`); signs the decision");
  cmd->add_option("--by", o->by, "the deciding principal (default: the key file's); needs a role that may approve the tool");
  auto* hash = cmd->add_option("--args-sha256", o->args_sha256,
                               approve ? "SHA-256 of the arguments you reviewed (`keel agent pending` shows it); refused if they differ"
                                       : "SHA-256 of the arguments you reviewed (optional for a denial)");
  if (approve) hash->required();
  cmd->add_option("--reason", o->reason, approve ? "a note for the record (signed)" : "why (signed, recorded, shown in the case)");
  add_agent_options(cmd, *o, Verb::reads);
  cmd->callback([o, approve, &exit_code] {
    const std::string verb = approve ? "approve" : "deny";
    AgentSession s(verb, *o, exit_code);
    std::optional<agent::ApproverKey> key;
    if (!o->key.empty()) {
      auto k = agent::read_approver_key(o->key);
      if (!k.ok()) return (void)s.fail(k.status().message());
      key = std::move(*k);
      if (o->by.empty()) o->by = key->principal;
      if (o->by != key->principal) {
        return (void)s.fail(fmt::format("{} is {}'s key, not {}'s", o->key, key->principal, o->by), 2);
      }
      if (key->demo_only) {
        std::fprintf(stderr, "keel agent %s: warning: %s is a demo key committed with an example; anyone can sign with it\n",
                     verb.c_str(), o->key.c_str());
      }
    }
    if (o->by.empty()) return (void)s.fail("say who decides: --key FILE (your approver key), or --by PRINCIPAL");
    if (!s.open()) return;
    auto request = s.d().runner().pending_request(o->case_id, o->step);
    if (!request.ok()) return (void)s.fail(request.status());
    agent::ApprovalStatement st;
    st.case_id = o->case_id;
    st.step = o->step;
    st.tool = request->tool;
    st.args_sha256 = o->args_sha256;
    st.approve = approve;
    st.principal = o->by;
    st.time_ns = agent::wall_now_ns();
    st.note = o->reason;
    agent::ApprovalSubmission submission = submission_of(std::move(st), key, "keel agent " + verb);
    Status decided = s.d().runner().decide(submission);
    if (!decided.ok()) return (void)s.fail(decided);
    const std::string how = key ? "signed with " + contract::format_public_key(key->keys.public_key).substr(0, 20) + "..."
                                : std::string("unsigned (the spec allows unsigned approvals)");
    if (o->json) {
      std::printf("%s\n", dump_json(Json{{"case", o->case_id},
                                         {"step", o->step},
                                         {"tool", request->tool},
                                         {"args", request->args},
                                         {"args_sha256", request->args_sha256},
                                         {"decision", approve ? "granted" : "denied"},
                                         {"by", o->by},
                                         {"authentication", agent::authentication_name(submission.authentication)}},
                                    2)
                              .c_str());
    } else {
      std::printf("step %lld of case %s (%s %s) %s by %s, %s; continue with `keel agent resume %s%s`\n",
                  static_cast<long long>(o->step), o->case_id.c_str(), request->tool.c_str(), dump_json(request->args).c_str(),
                  approve ? "approved" : "denied", o->by.c_str(), how.c_str(), o->case_id.c_str(),
                  s.deployment_flags().c_str());
    }
    exit_code = 0;
  });
}

}  // namespace

void add_agent_approval_commands(CLI::App& agent, int& exit_code) {
  add_pending_verb(agent, exit_code);
  for (bool approve : {true, false}) add_decision_verb(agent, exit_code, approve);
}

}  // namespace keel::app
