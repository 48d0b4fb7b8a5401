// keel agent run SPEC --case ID [--input FILE]     start a case and run it
// keel agent resume CASE [--spec SPEC]             continue a case from its journal
// keel agent work [--spec SPEC] [--max-cases N]    claim and run runnable cases (a worker)
// keel agent pending [--spec SPEC]                 actions waiting for a human
// keel agent approve CASE STEP --key FILE --args-sha256 H [--reason TEXT]   signed; see agent/approval.h
// keel agent deny CASE STEP --key FILE [--args-sha256 H] [--reason TEXT]
// keel agent keygen --principal ID --out FILE      an approver key pair (cmd_agent_keygen.cpp)
// keel agent status CASE                           the case's state
// keel agent replay CASE                           the whole timeline, executing nothing
// keel agent stats [--prometheus]                  metrics over all cases
// Every subcommand takes --json, --spec (default $KEEL_AGENT_SPEC or examples/durable-agent.yaml),
// --state-dir, --journal and --model-url.
//
// Exit codes: 0 done (completed, or waiting for an approval), 1 error or failed case, 2 the
// contract refused (spec checks, policy, approver not allowed), 3 paused (a dependency is
// down or a step limit was reached: run `keel agent resume` later).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "agent/agent_deployment.h"
#include "agent/approval.h"
#include "agent/case_report.h"
#include "apps/keel/commands.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "core/text_table.h"
#include "mcp/mcp_client.h"

namespace keel::app {
namespace {

struct AgentOptions {
  std::string spec;
  agent::AgentDeploymentOptions deployment;
  bool json = false;
};

// Whether a verb runs case steps (and so calls the model and holds leases) or only reads and
// decides; the second kind does not offer the first kind's flags.
enum class Verb { runs_cases, reads };

void add_common(CLI::App* cmd, AgentOptions& o, Verb verb) {
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

// The spec when --spec is not given: $KEEL_AGENT_SPEC, else the bundled example, looked for in
// the working folder and then beside the build (`<repo>/build/keel` finds `<repo>/examples/...`).
std::string default_agent_spec() {
  if (const char* env = std::getenv("KEEL_AGENT_SPEC"); env && *env) return env;
  const std::string bundled = "examples/durable-agent.yaml";
  std::error_code ec;
  if (std::filesystem::exists(bundled, ec)) return bundled;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside_build = exe.parent_path().parent_path() / bundled;
    if (std::filesystem::exists(beside_build, ec)) return beside_build.string();
  }
  return bundled;
}

class Session {
 public:
  Session(const std::string& command, AgentOptions& o, int& exit_code) : command_(command), o_(o), exit_code_(exit_code) {}

  bool fail(const std::string& message, int code = 1) {
    std::fprintf(stderr, "keel agent %s: %s\n", command_.c_str(), message.c_str());
    exit_code_ = code;
    return false;
  }
  bool fail(const Status& s) {
    int code = s.code() == StatusCode::permission_denied ? 2 : s.code() == StatusCode::unavailable ? 3 : 1;
    return fail(s.message(), code);
  }

  // The flags that name this deployment, for the commands a hint tells the user to run next
  // (" --spec S --state-dir D --journal J", each only when it is not the default).
  std::string deployment_flags() const {
    std::string out;
    if (spec_path_ != "examples/durable-agent.yaml" && !std::getenv("KEEL_AGENT_SPEC")) out += " --spec " + spec_path_;
    if (!o_.deployment.state_dir.empty()) out += " --state-dir " + o_.deployment.state_dir;
    if (!o_.deployment.journal.empty()) out += " --journal " + o_.deployment.journal;
    return out;
  }

  bool open() {
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
    auto d = agent::AgentDeployment::open(spec_, o_.deployment);
    if (!d.ok()) return fail(d.status());
    deployment_ = std::move(*d);
    return true;
  }

  agent::AgentDeployment& d() { return *deployment_; }

  void print_outcome(const std::string& case_id, const agent::RunOutcome& out) {
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

 private:
  std::string command_;
  AgentOptions& o_;
  int& exit_code_;
  std::string spec_path_;
  contract::Spec spec_;
  std::unique_ptr<agent::AgentDeployment> deployment_;
};

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

}  // namespace

void add_agent_command(CLI::App& root, int& exit_code) {
  CLI::App* agent = root.add_subcommand("agent", "Durable case-resolution agent: run, resume, approve and audit cases");
  agent->require_subcommand(1);
  add_agent_keygen_command(*agent, exit_code);

  {
    struct O : AgentOptions {
      std::string case_id, input, as, workflow;
      int64_t max_steps = -1;
    };
    auto o = std::make_shared<O>();
    auto* cmd = agent->add_subcommand("run", "Start a case and run it until it completes, waits or pauses");
    cmd->add_option("spec", o->spec, "durable-agent spec")->required();
    cmd->add_option("--case", o->case_id, "case id (the sample order system has CASE-1 … CASE-5)")->required();
    cmd->add_option("--input", o->input, "JSON file with the case input (default: {\"case_id\": ID})");
    cmd->add_option("--as", o->as, "principal the case acts for (default: the first non-approver)");
    cmd->add_option("--max-steps", o->max_steps, "pause after this many new steps (to inspect or inject faults)");
    add_common(cmd, *o, Verb::runs_cases);
    cmd->callback([o, &exit_code] {
      Session s("run", *o, exit_code);
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
  {
    struct O : AgentOptions {
      std::string case_id;
      int64_t max_steps = -1;
    };
    auto o = std::make_shared<O>();
    auto* cmd = agent->add_subcommand("resume", "Continue a case from its journal");
    cmd->add_option("case", o->case_id, "case id")->required();
    cmd->add_option("--max-steps", o->max_steps, "pause after this many new steps");
    add_common(cmd, *o, Verb::runs_cases);
    cmd->callback([o, &exit_code] {
      Session s("resume", *o, exit_code);
      o->deployment.runner.max_new_steps = o->max_steps;
      if (!s.open()) return;
      auto out = s.d().runner().resume(o->case_id);
      if (!out.ok()) return (void)s.fail(out.status());
      s.print_outcome(o->case_id, *out);
    });
  }
  {
    struct O : AgentOptions {
      int64_t max_cases = -1;
    };
    auto o = std::make_shared<O>();
    auto* cmd = agent->add_subcommand("work", "Claim runnable cases (free or expired lease) and run them");
    cmd->add_option("--max-cases", o->max_cases, "stop after this many cases");
    add_common(cmd, *o, Verb::runs_cases);
    cmd->callback([o, &exit_code] {
      Session s("work", *o, exit_code);
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
  {
    auto o = std::make_shared<AgentOptions>();
    auto* cmd = agent->add_subcommand("pending", "Actions waiting for a human, with their arguments and evidence");
    add_common(cmd, *o, Verb::reads);
    cmd->callback([o, &exit_code] {
      Session s("pending", *o, exit_code);
      if (!s.open()) return;
      auto p = s.d().runner().pending();
      if (!p.ok()) return (void)s.fail(p.status());
      print_pending(*p, o->json, s.deployment_flags());
      exit_code = 0;
    });
  }
  for (bool approve : {true, false}) {
    struct O : AgentOptions {
      std::string case_id, by, key, args_sha256, reason;
      int64_t step = -1;
    };
    auto o = std::make_shared<O>();
    auto* cmd = agent->add_subcommand(
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
    add_common(cmd, *o, Verb::reads);
    cmd->callback([o, approve, &exit_code] {
      const std::string verb = approve ? "approve" : "deny";
      Session s(verb, *o, exit_code);
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
      agent::ApprovalSubmission submission;
      if (key) {
        submission = agent::sign_approval(std::move(st), key->keys.secret_key, "keel agent " + verb);
      } else {
        submission.statement = std::move(st);
        submission.channel = "keel agent " + verb;
      }
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
  for (bool replay : {false, true}) {
    struct O : AgentOptions {
      std::string case_id;
    };
    auto o = std::make_shared<O>();
    auto* cmd = agent->add_subcommand(replay ? "replay" : "status",
                                      replay ? "Reprint a case's whole timeline from its journal, executing nothing"
                                             : "A case's state and where it stands");
    cmd->add_option("case", o->case_id, "case id")->required();
    add_common(cmd, *o, Verb::reads);
    cmd->callback([o, replay, &exit_code] {
      Session s(replay ? "replay" : "status", *o, exit_code);
      if (!s.open()) return;
      auto info = s.d().journal().get_case(o->case_id);
      if (!info.ok()) return (void)s.fail(info.status());
      auto records = s.d().journal().read(o->case_id);
      if (!records.ok()) return (void)s.fail(records.status());
      Json timeline = agent::case_timeline(*info, *records);
      if (replay) {
        if (o->json) {
          std::printf("%s\n", dump_json(timeline, 2).c_str());
        } else {
          std::printf("%s", agent::render_timeline(*info, *records).c_str());
        }
      } else {
        Json status = {{"case", info->id},
                       {"state", agent::case_state_name(info->state)},
                       {"workflow", info->workflow},
                       {"version", info->version},
                       {"principal", info->principal},
                       {"steps", timeline["steps"].size()},
                       {"records", records->size()}};
        for (const auto& st : timeline["steps"]) {
          if (st.contains("approval") && st["approval"].value("decision", "") == "pending") status["pending_step"] = st["step"];
        }
        for (const auto& e : timeline["events"]) {
          if (e["kind"] == "case_completed") status["result"] = e["data"]["result"];
          if (e["kind"] == "case_failed") status["error"] = e["data"]["error"];
        }
        if (o->json) {
          std::printf("%s\n", dump_json(status, 2).c_str());
        } else {
          std::printf("case %s: %s (%s v%d, %zu steps, as %s)\n", info->id.c_str(), std::string(agent::case_state_name(info->state)).c_str(),
                      info->workflow.c_str(), info->version, static_cast<size_t>(status["steps"].get<int64_t>()), info->principal.c_str());
          if (status.contains("pending_step")) std::printf("waiting for approval of step %lld\n", static_cast<long long>(status["pending_step"].get<int64_t>()));
          if (status.contains("error")) std::printf("error: %s\n", status["error"].get<std::string>().c_str());
          if (status.contains("result")) std::printf("result: %s\n", dump_json(status["result"]).c_str());
        }
      }
      exit_code = 0;
    });
  }
  {
    struct O : AgentOptions {
      bool prometheus = false;
    };
    auto o = std::make_shared<O>();
    auto* cmd = agent->add_subcommand("stats", "Task success and time, steps, retries, outcome checks, approvals, tokens");
    cmd->add_flag("--prometheus", o->prometheus, "print Prometheus text");
    add_common(cmd, *o, Verb::reads);
    cmd->callback([o, &exit_code] {
      Session s("stats", *o, exit_code);
      if (!s.open()) return;
      auto st = agent::compute_stats(s.d().journal());
      if (!st.ok()) return (void)s.fail(st.status());
      if (o->prometheus) {
        std::printf("%s", agent::stats_prometheus(*st).c_str());
      } else if (o->json) {
        std::printf("%s\n", dump_json(agent::stats_json(*st), 2).c_str());
      } else {
        TextTable t({"metric", "value"});
        Json j = agent::stats_json(*st);
        t.add_row({"cases (completed / waiting / running / failed)",
                   fmt::format("{} ({} / {} / {} / {})", st->cases, st->completed, st->waiting_approval, st->running, st->failed)});
        t.add_row({"success rate", fmt::format("{:.0f}%", st->success_rate * 100)});
        t.add_row({"case time mean / p50 / p95", fmt::format("{:.2f} / {:.2f} / {:.2f} s", st->mean_case_seconds, st->p50_case_seconds,
                                                             st->p95_case_seconds)});
        t.add_row({"steps / tool calls / model calls", fmt::format("{} / {} / {}", st->steps, st->tool_calls, st->model_calls)});
        t.add_row({"tool retries", std::to_string(st->tool_retries)});
        t.add_row({"outcome checks / duplicates prevented", fmt::format("{} / {}", st->outcome_checks, st->duplicates_prevented)});
        t.add_row({"approvals requested / granted / denied",
                   fmt::format("{} / {} / {}", st->approvals_requested, st->approvals_granted, st->approvals_denied)});
        t.add_row({"policy denies", std::to_string(st->policy_denies)});
        t.add_row({"model tokens (prompt + completion)", fmt::format("{} + {}", st->model_prompt_tokens, st->model_completion_tokens)});
        t.add_row({"model time", fmt::format("{:.2f} s", st->model_seconds)});
        t.add_row({"replays", std::to_string(st->replays)});
        std::printf("%s", t.render().c_str());
      }
      exit_code = 0;
    });
  }
}

}  // namespace keel::app
