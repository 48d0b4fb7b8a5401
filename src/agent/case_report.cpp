#include "agent/case_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "agent/approval.h"
#include "core/json.h"
#include "core/metrics.h"
#include "core/statistics.h"

namespace keel::agent {
namespace {

std::string iso_time(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>((ns / 1000000) % 1000));
}

std::string short_json(const Json& j, size_t max = 120) {
  std::string s = dump_json(j);
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

// ---- case_timeline: each record kind fills in its part of its step's entry --------------------

void note_policy_decision(Json& s, const Json& d) {
  s["tool"] = d.value("tool", "");
  s["policy"] = {{"allowed", d.value("allowed", false)}, {"rule", d.value("rule", "")}, {"reason", d.value("reason", "")}};
}

void note_approval_request(Json& s, const Json& d) {
  s["tool"] = d.value("tool", "");
  s["args"] = d.value("args", Json());
  s["approval"] = {{"requested", true}, {"why", d.value("why", "")}, {"args_sha256", d.value("args_sha256", "")},
                   {"decision", "pending"}};
}

// Who decided, when and how; a recorded signature is verified again here.
void note_approval_decision(Json& s, const JournalRecord& r) {
  const Json& d = r.data;
  Json& a = s["approval"];
  a["decision"] = r.kind == record::approval_granted ? "granted" : "denied";
  a["by"] = d.value("by", "");
  a["at"] = iso_time(r.at_ns);
  if (d.contains("decided_at_ns")) a["decided_at"] = iso_time(d.value("decided_at_ns", int64_t{0}));
  a["args_sha256"] = d.value("args_sha256", a.value("args_sha256", ""));
  a["authentication"] = d.value("authentication", "");
  if (d.contains("channel")) a["channel"] = d["channel"];
  if (d.contains("signature")) {
    a["signature"] = d["signature"];
    a["public_key"] = d.value("public_key", "");
    a["signature_verified"] = verify_recorded_signature(d).ok();
  }
  if (d.contains("shown")) a["shown"] = d["shown"];
  if (d.contains("note")) a["note"] = d["note"];
  if (d.contains("reason")) a["reason"] = d["reason"];
}

void note_intent(Json& s, const JournalRecord& r) {
  const Json& d = r.data;
  s["kind"] = d.value("kind", "tool");
  s["tool"] = d.value("tool", "");
  if (d.contains("effect")) s["effect"] = d["effect"];
  if (d.contains("args")) s["args"] = d["args"];
  s["idempotency_key"] = d.value("idempotency_key", "");
  s["started"] = iso_time(r.at_ns);
}

void note_outcome(Json& s, const JournalRecord& r) {
  const Json& d = r.data;
  if (!s.contains("kind")) s["kind"] = d.value("kind", "tool");
  s["tool"] = d.value("tool", "");
  Json o = Json::object();
  if (d.contains("result")) o["result"] = d["result"];
  if (d.contains("error")) {
    o["error"] = d["error"];
    o["code"] = d.value("code", "");
  }
  o["recovered_by_outcome_check"] = d.value("recovered_by_outcome_check", false);
  s["outcome"] = o;
  s["finished"] = iso_time(r.at_ns);
  if (d.value("kind", "") == "model" && d.contains("result")) {
    s["tokens"] = {{"prompt", d["result"].value("prompt_tokens", 0)}, {"completion", d["result"].value("completion_tokens", 0)}};
  }
}

void note_step_record(Json& s, const JournalRecord& r) {
  const Json& d = r.data;
  if (r.kind == record::policy_decision) {
    note_policy_decision(s, d);
  } else if (r.kind == record::approval_requested) {
    note_approval_request(s, d);
  } else if (r.kind == record::approval_granted || r.kind == record::approval_denied) {
    note_approval_decision(s, r);
  } else if (r.kind == record::intent) {
    note_intent(s, r);
  } else if (r.kind == record::attempt_failed) {
    s["attempts_failed"] = s["attempts_failed"].get<int>() + 1;
    s["last_error"] = d.value("error", "");
  } else if (r.kind == record::outcome_check) {
    s["outcome_checks"].push_back({{"happened", d.value("happened", false)}, {"at", iso_time(r.at_ns)}});
  } else if (r.kind == record::outcome) {
    note_outcome(s, r);
  }
}

// Every step entry has the same fields, null or empty where its records said nothing.
void fill_step_defaults(Json& s) {
  if (!s.contains("kind")) s["kind"] = "tool";
  if (!s.contains("args")) s["args"] = Json::object();
  if (!s.contains("idempotency_key")) s["idempotency_key"] = "";
  if (!s.contains("outcome")) s["outcome"] = nullptr;
}

}  // namespace

Json case_timeline(const CaseInfo& info, const std::vector<JournalRecord>& records) {
  std::map<int64_t, Json> steps;
  Json events = Json::array();
  for (const auto& r : records) {
    if (r.step < 0) {
      events.push_back({{"seq", r.seq}, {"kind", r.kind}, {"at", iso_time(r.at_ns)}, {"data", r.data}});
      continue;
    }
    Json& s = steps[r.step];
    if (s.is_null()) {
      s = {{"step", r.step}, {"attempts_failed", 0}, {"outcome_checks", Json::array()}};
    }
    note_step_record(s, r);
  }
  Json out = {{"case", info.id},
              {"workflow", info.workflow},
              {"version", info.version},
              {"state", case_state_name(info.state)},
              {"principal", info.principal},
              {"input", info.input},
              {"steps", Json::array()},
              {"events", events}};
  for (auto& [n, s] : steps) {
    fill_step_defaults(s);
    out["steps"].push_back(s);
  }
  return out;
}

std::string render_timeline(const CaseInfo& info, const std::vector<JournalRecord>& records) {
  std::string out = fmt::format("case {} ({} v{}, as {}): {}\n", info.id, info.workflow, info.version, info.principal,
                                case_state_name(info.state));
  for (const auto& r : records) {
    const Json& d = r.data;
    std::string step = r.step >= 0 ? fmt::format("step {:>2}", r.step) : "       ";
    std::string what;
    if (r.kind == record::case_started) {
      what = fmt::format("input {}", short_json(d.value("input", Json())));
    } else if (r.kind == record::policy_decision) {
      what = fmt::format("{} {} by rule {}", d.value("tool", ""), d.value("allowed", false) ? "permitted" : "DENIED", d.value("rule", ""));
    } else if (r.kind == record::approval_requested) {
      what = fmt::format("{} {} needs approval ({}); args sha256 {}", d.value("tool", ""), short_json(d.value("args", Json()), 80),
                         d.value("why", ""), d.value("args_sha256", "").substr(0, 12));
    } else if (r.kind == record::approval_granted || r.kind == record::approval_denied) {
      std::string how = d.value("authentication", "");
      if (d.contains("signature")) {
        how += fmt::format(" by {} ({})", d.value("public_key", "").substr(0, 20) + "...",
                           verify_recorded_signature(d).ok() ? "verifies" : "DOES NOT VERIFY");
      }
      std::string text = d.value("reason", d.value("note", ""));
      what = fmt::format("{} by {}{}; args sha256 {}{}{}", d.value("tool", ""), d.value("by", ""),
                         how.empty() ? "" : " [" + how + "]", d.value("args_sha256", "").substr(0, 12),
                         d.contains("shown") ? "; shown " + short_json(d["shown"].value("args", Json()), 80) : "",
                         text.empty() ? "" : ": " + text);
    } else if (r.kind == record::intent) {
      what = d.value("kind", "") == "model" ? fmt::format("{} on {}", d.value("tool", ""), d.value("model", ""))
                                           : fmt::format("{} {}{}", d.value("tool", ""), short_json(d.value("args", Json()), 80),
                                                         d.value("idempotency_key", "").empty() ? "" : " key " + d.value("idempotency_key", "").substr(0, 17));
    } else if (r.kind == record::attempt_failed) {
      what = fmt::format("{} attempt {}: {}", d.value("tool", ""), d.value("attempt", 1), d.value("error", ""));
    } else if (r.kind == record::outcome_check) {
      what = fmt::format("{}: the system of record says it {}", d.value("tool", ""), d.value("happened", false) ? "happened" : "did not happen");
    } else if (r.kind == record::outcome) {
      if (d.contains("error")) {
        what = fmt::format("{} error ({}): {}", d.value("tool", ""), d.value("code", ""), d.value("error", ""));
      } else if (d.value("kind", "") == "model") {
        const Json& res = d["result"];
        what = fmt::format("{} {} + {} tokens: {}", d.value("tool", ""), res.value("prompt_tokens", 0), res.value("completion_tokens", 0),
                           short_json(res.value("text", ""), 80));
      } else {
        what = fmt::format("{} -> {}{}", d.value("tool", ""), short_json(d.value("result", Json()), 100),
                           d.value("recovered_by_outcome_check", false) ? " (recovered by outcome check)" : "");
      }
    } else if (r.kind == record::case_completed) {
      what = short_json(d.value("result", Json()), 140);
    } else if (r.kind == record::case_failed) {
      what = d.value("error", "");
    } else if (r.kind == record::resumed) {
      what = fmt::format("rebuilt from the journal by {}", d.value("worker", ""));
    }
    out += fmt::format("{:>4}  {}  {}  {:<18}  {}\n", r.seq, iso_time(r.at_ns), step, r.kind, what);
  }
  return out;
}

Result<AgentStats> compute_stats(JournalStore& journal) {
  AgentStats s;
  KEEL_ASSIGN_OR_RETURN(auto cases, journal.list_cases(std::nullopt));
  std::vector<double> durations;
  for (const auto& c : cases) {
    ++s.cases;
    switch (c.state) {
      case CaseState::running: ++s.running; break;
      case CaseState::waiting_approval: ++s.waiting_approval; break;
      case CaseState::completed: ++s.completed; break;
      case CaseState::failed: ++s.failed; break;
    }
    KEEL_ASSIGN_OR_RETURN(auto records, journal.read(c.id));
    std::map<int64_t, bool> steps_seen;
    for (const auto& r : records) {
      const Json& d = r.data;
      if (r.step >= 0) steps_seen[r.step] = true;
      if (r.kind == record::intent) {
        (d.value("kind", "tool") == "model" ? s.model_calls : s.tool_calls) += 1;
      } else if (r.kind == record::attempt_failed) {
        ++s.tool_retries;
      } else if (r.kind == record::outcome_check) {
        ++s.outcome_checks;
        if (d.value("happened", false)) ++s.duplicates_prevented;
      } else if (r.kind == record::approval_requested) {
        ++s.approvals_requested;
      } else if (r.kind == record::approval_granted) {
        ++s.approvals_granted;
      } else if (r.kind == record::approval_denied) {
        ++s.approvals_denied;
      } else if (r.kind == record::policy_decision && !d.value("allowed", true)) {
        ++s.policy_denies;
      } else if (r.kind == record::outcome && d.value("kind", "") == "model" && d.contains("result")) {
        s.model_prompt_tokens += d["result"].value("prompt_tokens", 0);
        s.model_completion_tokens += d["result"].value("completion_tokens", 0);
        s.model_seconds += d["result"].value("seconds", 0.0);
      } else if (r.kind == record::resumed) {
        ++s.replays;
      } else if (r.kind == record::case_completed) {
        durations.push_back((r.at_ns - c.created_ns) / 1e9);
      }
    }
    s.steps += static_cast<int64_t>(steps_seen.size());
  }
  if (s.completed + s.failed > 0) s.success_rate = static_cast<double>(s.completed) / static_cast<double>(s.completed + s.failed);
  s.completed_case_seconds = durations;
  if (!durations.empty()) {
    double sum = 0;
    for (double d : durations) sum += d;
    s.mean_case_seconds = sum / static_cast<double>(durations.size());
    s.p50_case_seconds = percentile(durations, 0.5);
    s.p95_case_seconds = percentile(durations, 0.95);
  }
  return s;
}

Json stats_json(const AgentStats& s) {
  return {{"cases", {{"total", s.cases}, {"running", s.running}, {"waiting_approval", s.waiting_approval},
                     {"completed", s.completed}, {"failed", s.failed}}},
          {"success_rate", s.success_rate},
          {"case_seconds", {{"mean", s.mean_case_seconds}, {"p50", s.p50_case_seconds}, {"p95", s.p95_case_seconds}}},
          {"steps", s.steps},
          {"tool_calls", s.tool_calls},
          {"model_calls", s.model_calls},
          {"tool_retries", s.tool_retries},
          {"outcome_checks", s.outcome_checks},
          {"duplicates_prevented", s.duplicates_prevented},
          {"approvals", {{"requested", s.approvals_requested}, {"granted", s.approvals_granted}, {"denied", s.approvals_denied}}},
          {"policy_denies", s.policy_denies},
          {"model", {{"prompt_tokens", s.model_prompt_tokens}, {"completion_tokens", s.model_completion_tokens},
                     {"seconds", s.model_seconds}}},
          {"replays", s.replays}};
}

std::string stats_prometheus(const AgentStats& s) {
  MetricsRegistry r;
  r.counter("keel_agent_cases_total", "Cases started (every case in the journal).")
      .get()
      .inc(static_cast<double>(s.cases));
  auto& cases = r.gauge("keel_agent_cases", "Cases in the journal, by state.", {"state"});
  cases.labels({"running"}).set(static_cast<double>(s.running));
  cases.labels({"waiting_approval"}).set(static_cast<double>(s.waiting_approval));
  cases.labels({"completed"}).set(static_cast<double>(s.completed));
  cases.labels({"failed"}).set(static_cast<double>(s.failed));
  r.gauge("keel_agent_success_ratio", "Completed cases over finished cases.").get().set(s.success_rate);
  r.gauge("keel_agent_case_seconds_mean", "Mean time from start to completion of completed cases.").get().set(s.mean_case_seconds);
  // Cases run from seconds (no human in the loop) to days (waiting for an approval).
  auto& case_seconds =
      r.histogram("keel_agent_case_seconds", "Time from start to completion of completed cases.",
                  {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400, 604800})
          .get();
  for (double seconds : s.completed_case_seconds) case_seconds.observe(seconds);
  r.counter("keel_agent_steps_total", "Workflow steps journaled.").get().inc(static_cast<double>(s.steps));
  r.counter("keel_agent_tool_calls_total", "Tool calls started (intents).").get().inc(static_cast<double>(s.tool_calls));
  r.counter("keel_agent_model_calls_total", "Model calls started.").get().inc(static_cast<double>(s.model_calls));
  r.counter("keel_agent_tool_retries_total", "Failed attempts of tool and model calls.").get().inc(static_cast<double>(s.tool_retries));
  r.counter("keel_agent_outcome_checks_total", "Outcome checks asked of systems of record.").get().inc(static_cast<double>(s.outcome_checks));
  r.counter("keel_agent_duplicates_prevented_total", "Writes not repeated because an outcome check found them done.")
      .get().inc(static_cast<double>(s.duplicates_prevented));
  auto& approvals = r.counter("keel_agent_approvals_total", "Approval requests and decisions.", {"event"});
  approvals.labels({"requested"}).inc(static_cast<double>(s.approvals_requested));
  approvals.labels({"granted"}).inc(static_cast<double>(s.approvals_granted));
  approvals.labels({"denied"}).inc(static_cast<double>(s.approvals_denied));
  r.counter("keel_agent_policy_denials_total", "Calls the permission policy denied.")
      .get()
      .inc(static_cast<double>(s.policy_denies));
  auto& tokens = r.counter("keel_agent_model_tokens_total", "Model tokens used by cases.", {"kind"});
  tokens.labels({"prompt"}).inc(static_cast<double>(s.model_prompt_tokens));
  tokens.labels({"completion"}).inc(static_cast<double>(s.model_completion_tokens));
  r.counter("keel_agent_model_seconds_total", "Time spent in model calls.").get().inc(s.model_seconds);
  r.counter("keel_agent_replays_total", "Times a case was rebuilt from its journal.").get().inc(static_cast<double>(s.replays));
  return r.render();
}

}  // namespace keel::agent
