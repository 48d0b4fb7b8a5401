// keel agent status CASE                           the case's state
// keel agent replay CASE                           the whole timeline, executing nothing
// keel agent stats [--prometheus]                  metrics over all cases
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "apps/keel/agent_session.h"
#include "apps/keel/commands.h"
#include "core/json.h"
#include "agent/case_report.h"
#include "core/text_table.h"

namespace keel::app {

namespace {

void add_case_view_verb(CLI::App& agent, int& exit_code, bool replay) {
  struct O : AgentOptions {
    std::string case_id;
  };
  auto o = std::make_shared<O>();
  auto* cmd = agent.add_subcommand(replay ? "replay" : "status",
                                    replay ? "Reprint a case's whole timeline from its journal, executing nothing"
                                           : "A case's state and where it stands");
  cmd->add_option("case", o->case_id, "case id")->required();
  add_agent_options(cmd, *o, Verb::reads);
  cmd->callback([o, replay, &exit_code] {
    AgentSession s(replay ? "replay" : "status", *o, exit_code);
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

void add_stats_verb(CLI::App& agent, int& exit_code) {
  struct O : AgentOptions {
    bool prometheus = false;
  };
  auto o = std::make_shared<O>();
  auto* cmd = agent.add_subcommand("stats", "Task success and time, steps, retries, outcome checks, approvals, tokens");
  cmd->add_flag("--prometheus", o->prometheus, "print Prometheus text");
  add_agent_options(cmd, *o, Verb::reads);
  cmd->callback([o, &exit_code] {
    AgentSession s("stats", *o, exit_code);
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

}  // namespace

void add_agent_inspect_commands(CLI::App& agent, int& exit_code) {
  for (bool replay : {false, true}) add_case_view_verb(agent, exit_code, replay);
  add_stats_verb(agent, exit_code);
}

}  // namespace keel::app
