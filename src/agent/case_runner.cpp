#include "agent/case_runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <thread>

#include "core/hash.h"
#include "core/json.h"
#include "core/json_schema.h"
#include "core/log.h"

namespace keel::agent {
namespace {

// ---- fault injection ------------------------------------------------------------------------

struct KillPoint {
  std::string point;
  int64_t step = -1;
};

std::optional<KillPoint> kill_point_from_env() {
  const char* v = std::getenv("KEEL_AGENT_FAULT");
  if (!v) return std::nullopt;
  std::string s(v);
  // kill:<point>:<step>
  if (s.rfind("kill:", 0) != 0) return std::nullopt;
  size_t colon = s.find(':', 5);
  if (colon == std::string::npos) return std::nullopt;
  return KillPoint{s.substr(5, colon - 5), std::atoll(s.c_str() + colon + 1)};
}

void maybe_kill(const std::optional<KillPoint>& k, std::string_view point, int64_t step) {
  if (k && k->point == point && k->step == step) {
    std::fprintf(stderr, "keel agent: fault injection: killing the worker at %s of step %lld\n", k->point.c_str(),
                 static_cast<long long>(step));
    std::fflush(stderr);
    raise(SIGKILL);
  }
}

constexpr StatusCode kSuspendedCode = StatusCode::cancelled;
constexpr std::string_view kSuspendedPrefix = "suspended: ";
constexpr std::string_view kStepLimitPrefix = "paused: step limit";

// ---- the journal of one case, indexed by step ----------------------------------------------

struct StepRecords {
  const JournalRecord* policy = nullptr;
  const JournalRecord* approval_request = nullptr;
  const JournalRecord* approval_reminder = nullptr;
  const JournalRecord* approval_decision = nullptr;
  const JournalRecord* intent = nullptr;
  const JournalRecord* outcome = nullptr;
  int failed_attempts = 0;
};

class CaseJournal {
 public:
  CaseJournal(JournalStore& store, std::string case_id) : store_(store), case_id_(std::move(case_id)) {}

  Status load() {
    KEEL_ASSIGN_OR_RETURN(auto records, store_.read(case_id_));
    records_.clear();
    steps_.clear();
    for (auto& r : records) {
      records_.push_back(std::move(r));
      index(records_.back());
    }
    return Status();
  }
  //! Records in order. A deque: appending never moves earlier records, so StepRecords
  //! pointers (and the map nodes holding them) stay valid.
  const std::deque<JournalRecord>& records() const { return records_; }
  int64_t last_seq() const { return records_.empty() ? 0 : records_.back().seq; }
  const StepRecords* step(int64_t n) const {
    auto it = steps_.find(n);
    return it == steps_.end() ? nullptr : &it->second;
  }
  //! The journal ran out of space during this run (ok otherwise): nothing more may happen.
  const Status& write_failure() const { return write_failure_; }

  //! Appends one record durably (and the case state, when given).
  Status append(std::string_view kind, int64_t step, Json data, std::optional<CaseState> state = std::nullopt) {
    JournalRecord r;
    r.kind = std::string(kind);
    r.step = step;
    r.data = std::move(data);
    r.at_ns = wall_now_ns();
    if (Status written = store_.append(case_id_, last_seq(), {r}, state); !written.ok()) {
      if (written.code() == StatusCode::resource_exhausted) write_failure_ = written;
      return written;
    }
    r.seq = last_seq() + 1;
    records_.push_back(std::move(r));
    index(records_.back());
    return Status();
  }

 private:
  void index(const JournalRecord& r) {
    if (r.step < 0) return;
    auto& s = steps_[r.step];
    if (r.kind == record::policy_decision) s.policy = &r;
    else if (r.kind == record::approval_requested) s.approval_request = &r;
    else if (r.kind == record::approval_reminded)
      s.approval_reminder = &r;
    else if (r.kind == record::approval_granted || r.kind == record::approval_denied) s.approval_decision = &r;
    else if (r.kind == record::intent) s.intent = &r;
    else if (r.kind == record::outcome) s.outcome = &r;
    else if (r.kind == record::attempt_failed) ++s.failed_attempts;
  }

  JournalStore& store_;
  std::string case_id_;
  std::deque<JournalRecord> records_;
  std::map<int64_t, StepRecords> steps_;
  Status write_failure_;
};

Status status_from_outcome(const Json& outcome) {
  std::string message = outcome.value("error", "the step failed");
  std::string code = outcome.value("code", "internal");
  for (int c = 0; c <= static_cast<int>(StatusCode::internal); ++c) {
    if (status_code_name(static_cast<StatusCode>(c)) == code) return Status(static_cast<StatusCode>(c), message);
  }
  return Status::internal(message);
}

// ---- the context a workflow runs in ----------------------------------------------------------

class JournaledContext : public WorkflowContext {
 public:
  JournaledContext(CaseInfo info, CaseJournal& journal, const ToolRegistry& tools, const Policy& policy, ModelClient* model,
                   JournalStore& store, const RunnerOptions& options, std::optional<KillPoint> kill)
      : info_(std::move(info)), journal_(journal), tools_(tools), policy_(policy), model_(model), store_(store),
        options_(options), kill_(std::move(kill)) {
    state_ = {{"id", info_.id}};
  }

  const CaseInfo& case_info() const override { return info_; }
  Json& state() override { return state_; }
  int64_t new_steps() const { return new_steps_; }
  int64_t replayed_steps() const { return replayed_; }
  int64_t pending_step() const { return pending_step_; }

  Result<Json> call_tool(const std::string& name, const Json& args, const StepEvidence& evidence) override {
    // After a journal write failed for lack of space nothing else may happen in this run:
    // every effect needs its intent record first.
    if (!journal_.write_failure().ok()) return journal_.write_failure();
    const int64_t step = next_step_++;
    const StepRecords* done = journal_.step(step);
    Tool* tool = tools_.find(name);
    // A recorded outcome answers the step: never execute it again.
    if (done && done->outcome) return replay_tool_outcome(step, *done, tool, name, args);
    if (done && done->policy && done->policy->data.value("tool", "") != name) {
      return nondeterminism(step, done->policy->data.value("tool", ""), name);
    }
    if (!tool) return fail_step(step, name, Status::not_found(fmt::format("no tool {} is registered", name)));
    KEEL_RETURN_IF_ERROR(before_new_step(step));
    const ToolDefinition& def = tool->definition();

    // 1. Permission (journaled once; a replay reuses the recorded decision).
    KEEL_RETURN_IF_ERROR(check_permission(step, name, args));
    done = journal_.step(step);

    // 2. Approval.
    const std::string hash = args_sha256(args);
    KEEL_RETURN_IF_ERROR(check_approval(step, name, args, hash, evidence, *done));

    // 3. Arguments are checked before anything executes.
    KEEL_RETURN_IF_ERROR(check_arguments(step, name, def, args));

    ToolCallContext call{info_.id, step, info_.principal, "", def.timeout_ms};
    if (tool->is_write()) call.idempotency_key = idempotency_key(info_.id, step, name, args);

    // 4. Intent, or an earlier intent whose outcome is unknown.
    KEEL_ASSIGN_OR_RETURN(std::optional<Json> recovered,
                          record_intent_or_recover(step, *tool, name, args, hash, call, *done));
    if (recovered) return finish(step, *tool, *recovered, true);

    // 5. The call, with retries for transient errors.
    return call_with_retries(step, *tool, name, args, call);
  }

  Result<ModelReply> call_model(const std::string& purpose, const ModelRequest& request) override {
    if (!journal_.write_failure().ok()) return journal_.write_failure();
    const int64_t step = next_step_++;
    const StepRecords* done = journal_.step(step);
    const std::string prompt_hash = sha256_hex(request.system + "\x1f" + request.user);
    if (done && done->outcome) {
      KEEL_RETURN_IF_ERROR(check_same_step(step, done, "model", purpose, Json()));
      ++replayed_;
      const Json& o = done->outcome->data;
      if (o.contains("error")) return status_from_outcome(o);
      ModelReply r;
      r.text = o["result"].value("text", "");
      r.model = o["result"].value("model", "");
      r.prompt_tokens = o["result"].value("prompt_tokens", 0);
      r.completion_tokens = o["result"].value("completion_tokens", 0);
      r.seconds = o["result"].value("seconds", 0.0);
      return r;
    }
    if (!model_) {
      return fail_step(step, "model:" + purpose, Status::failed_precondition("this case calls a model but none is configured"));
    }
    KEEL_RETURN_IF_ERROR(before_new_step(step));
    if (!done || !done->intent) {
      maybe_kill(kill_, "before-intent", step);
      KEEL_RETURN_IF_ERROR(journal_.append(record::intent, step,
                                           {{"kind", "model"}, {"tool", "model:" + purpose}, {"model", model_->describe()},
                                            {"prompt_sha256", prompt_hash}, {"max_tokens", request.max_tokens}}));
      maybe_kill(kill_, "after-intent", step);
    }
    auto reply = model_->complete(request);
    maybe_kill(kill_, "after-effect", step);
    if (!reply.ok()) {
      if (reply.status().code() == StatusCode::unavailable) {
        KEEL_RETURN_IF_ERROR(journal_.append(record::attempt_failed, step,
                                             {{"tool", "model:" + purpose}, {"error", reply.status().message()},
                                              {"code", "unavailable"}, {"outcome_unknown", false}}));
        return reply.status();
      }
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, "model:" + purpose, reply.status()));
      return reply.status();
    }
    Json result = {{"text", reply->text}, {"model", reply->model}, {"prompt_tokens", reply->prompt_tokens},
                   {"completion_tokens", reply->completion_tokens}, {"seconds", reply->seconds}};
    KEEL_RETURN_IF_ERROR(journal_.append(record::outcome, step, {{"kind", "model"}, {"tool", "model:" + purpose}, {"result", result}}));
    maybe_kill(kill_, "after-outcome", step);
    return *reply;
  }

 private:
  // ---- the steps of call_tool ----------------------------------------------------------------

  Result<Json> replay_tool_outcome(int64_t step, const StepRecords& done, const Tool* tool, const std::string& name,
                                   const Json& args) {
    KEEL_RETURN_IF_ERROR(check_same_step(step, &done, "tool", name, args));
    ++replayed_;
    const Json& o = done.outcome->data;
    if (o.contains("error")) return status_from_outcome(o);
    if (tool && tool->definition().effect == contract::Effect::read) remember_context(step, name, o["result"]);
    return o["result"];
  }

  // 1. The policy's decision, journaled once (a replay reuses the recorded one); a denial is
  // the step's outcome.
  Status check_permission(int64_t step, const std::string& name, const Json& args) {
    const StepRecords* done = journal_.step(step);
    if (!done || !done->policy) {
      PolicyDecision d = policy_.decide(info_.principal, name, args, state_);
      KEEL_RETURN_IF_ERROR(journal_.append(record::policy_decision, step,
                                           {{"tool", name}, {"principal", info_.principal}, {"allowed", d.allowed},
                                            {"rule", d.rule}, {"reason", d.reason}, {"args_sha256", args_sha256(args)}}));
      done = journal_.step(step);
    }
    if (!done->policy->data.value("allowed", false)) {
      Status denied = Status::permission_denied(fmt::format("policy denies {} to {}: {} (rule {})", name, info_.principal,
                                                            done->policy->data.value("reason", ""),
                                                            done->policy->data.value("rule", "")));
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, name, denied));
      return denied;
    }
    return Status();
  }

  // 2. Ok when the step may go on: its recorded approval stands, or it needs none. Otherwise a
  // denial or refusal (journaled as the outcome), or the suspension while a decision is awaited.
  Status check_approval(int64_t step, const std::string& name, const Json& args, const std::string& hash,
                        const StepEvidence& evidence, const StepRecords& done) {
    if (done.approval_decision) return check_recorded_decision(step, name, hash, *done.approval_decision);
    if (done.approval_request) {
      pending_step_ = step;
      return suspended_status(step);
    }
    return request_approval_if_needed(step, name, args, hash, evidence);
  }

  // A decision stands when it granted the action for these very arguments.
  Status check_recorded_decision(int64_t step, const std::string& name, const std::string& hash,
                                 const JournalRecord& decision) {
    const Json& d = decision.data;
    if (decision.kind == record::approval_denied) {
      Status denied = Status::permission_denied(fmt::format("{} denied {}: {}", d.value("by", "an approver"), name,
                                                            d.value("reason", "no reason given")));
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, name, denied));
      return denied;
    }
    if (d.value("args_sha256", "") != hash) {
      Status refused = Status::failed_precondition(fmt::format(
          "the arguments of {} changed after {} approved them (approved {}, now {}); the action is refused", name,
          d.value("by", "the approver"), d.value("args_sha256", "").substr(0, 12), hash.substr(0, 12)));
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, name, refused));
      return refused;
    }
    return Status();
  }

  // Journals an approval request (with its evidence and deadlines) and suspends the case when
  // the policy wants a human for this call; ok otherwise.
  Status request_approval_if_needed(int64_t step, const std::string& name, const Json& args, const std::string& hash,
                                    const StepEvidence& evidence) {
    ApprovalNeed need = policy_.approval(info_.principal, name, args, state_);
    if (!need.required) return Status();
    Json ev = {{"reason", evidence.reason}, {"context", context_}};
    Json request = {{"tool", name},
                    {"args", args},
                    {"args_sha256", hash},
                    {"why", need.reason},
                    {"evidence", ev}};
    // Deadlines on the runner's clock (injectable), so sweep_approvals() can be tested
    // without waiting.
    const int64_t now = (options_.clock ? *options_.clock : system_clock()).unix_now_ns();
    request["requested_at_ns"] = now;
    if (need.remind_after_s)
      request["remind_at_ns"] = now + static_cast<int64_t>(*need.remind_after_s * 1e9);
    if (need.expire_after_s)
      request["expires_at_ns"] = now + static_cast<int64_t>(*need.expire_after_s * 1e9);
    KEEL_RETURN_IF_ERROR(journal_.append(record::approval_requested, step, request,
                                         CaseState::waiting_approval));
    pending_step_ = step;
    return suspended_status(step);
  }

  // 3. Arguments that break the tool's input schema are the step's outcome.
  Status check_arguments(int64_t step, const std::string& name, const ToolDefinition& def, const Json& args) {
    if (auto v = validate_json(def.input_schema, args); !v.empty()) {
      Status bad = Status::invalid_argument(fmt::format("invalid arguments for {}: {}", name, describe_violations(v)));
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, name, bad));
      return bad;
    }
    return Status();
  }

  // 4. Journals the intent before the effect. When an earlier run journaled it already, the
  // outcome of a write is unknown: the result the system of record reports, if the write
  // happened; nullopt when the call is to be made (again, with the same key).
  Result<std::optional<Json>> record_intent_or_recover(int64_t step, Tool& tool, const std::string& name,
                                                       const Json& args, const std::string& hash,
                                                       const ToolCallContext& call, const StepRecords& done) {
    if (done.intent) {
      // The system of record saying it did not happen means the write may be made (same key).
      if (tool.is_write()) return resolve_unknown_outcome(step, tool, call);
      return std::optional<Json>();
    }
    const ToolDefinition& def = tool.definition();
    maybe_kill(kill_, "before-intent", step);
    KEEL_RETURN_IF_ERROR(journal_.append(record::intent, step,
                                         {{"kind", "tool"}, {"tool", name}, {"effect", contract::enum_name(def.effect)},
                                          {"args", args}, {"args_sha256", hash},
                                          {"idempotency_key", call.idempotency_key}, {"system", def.system}}));
    maybe_kill(kill_, "after-intent", step);
    return std::optional<Json>();
  }

  // 5. Calls the tool. Transient errors are journaled and retried with a doubling backoff, up to
  // the tool's max_attempts (then the case pauses); a timed-out write is first checked with the
  // system of record. Any other error is the step's outcome.
  Result<Json> call_with_retries(int64_t step, Tool& tool, const std::string& name, const Json& args,
                                 const ToolCallContext& call) {
    const ToolDefinition& def = tool.definition();
    int64_t backoff = def.backoff_ms;
    for (int attempt = 1;; ++attempt) {
      auto r = tool.call(args, call);
      maybe_kill(kill_, "after-effect", step);
      if (r.ok()) return finish(step, tool, *r, false);
      const Status& e = r.status();
      if (e.code() == StatusCode::unavailable || e.code() == StatusCode::deadline_exceeded) {
        bool unknown = e.code() == StatusCode::deadline_exceeded;
        KEEL_RETURN_IF_ERROR(journal_.append(record::attempt_failed, step,
                                             {{"tool", name}, {"attempt", attempt}, {"error", e.message()},
                                              {"code", status_code_name(e.code())}, {"outcome_unknown", unknown}}));
        if (unknown && tool.is_write()) {
          auto recovered = resolve_unknown_outcome(step, tool, call);
          if (!recovered.ok()) return recovered.status();
          if (*recovered) return finish(step, tool, **recovered, true);
        }
        if (attempt >= def.max_attempts) {
          return Status::unavailable(fmt::format("{} failed {} times (last: {}); the case pauses and resumes later", name,
                                                 attempt, e.message()));
        }
        // On the runner's clock, so tests with a ManualClock do not wait.
        (options_.clock ? *options_.clock : system_clock()).sleep_ns(backoff * 1'000'000);
        backoff *= 2;
        continue;
      }
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, name, e));
      return e;
    }
  }

  // ---- shared by the steps of tools and models ------------------------------------------------
  Status before_new_step(int64_t step) {
    if (options_.max_new_steps >= 0 && new_steps_ >= options_.max_new_steps) {
      return Status(kSuspendedCode, std::string(kStepLimitPrefix));
    }
    ++new_steps_;
    maybe_kill(kill_, "step-start", step);
    return store_.renew(info_.id, options_.worker_id, options_.lease_s);
  }

  Status check_same_step(int64_t step, const StepRecords* done, std::string_view kind, const std::string& name, const Json& args) {
    const Json& o = done->outcome->data;
    if (o.value("tool", "") != (kind == "model" ? "model:" + name : name)) {
      return nondeterminism(step, o.value("tool", ""), kind == "model" ? "model:" + name : name);
    }
    if (kind == "tool" && done->intent && done->intent->data.value("args_sha256", "") != args_sha256(args)) {
      return Status::failed_precondition(fmt::format(
          "case {} step {}: the workflow now calls {} with different arguments than the journal records; "
          "it is not deterministic, or its version changed",
          info_.id, step, name));
    }
    return Status();
  }

  Status nondeterminism(int64_t step, const std::string& recorded, const std::string& now) {
    return Status::failed_precondition(fmt::format(
        "case {} step {}: the journal records {} but the workflow now calls {}; the workflow is not deterministic "
        "or its version changed",
        info_.id, step, recorded, now));
  }

  Status fail_step(int64_t step, const std::string& name, const Status& s) {
    KEEL_RETURN_IF_ERROR(record_outcome_error(step, name, s));
    return s;
  }

  Status record_outcome_error(int64_t step, const std::string& name, const Status& s) {
    return journal_.append(record::outcome, step,
                           {{"kind", "tool"}, {"tool", name}, {"error", s.message()}, {"code", status_code_name(s.code())}});
  }

  // Asks the system of record whether the write with this key happened; journals the answer.
  Result<std::optional<Json>> resolve_unknown_outcome(int64_t step, Tool& tool, const ToolCallContext& call) {
    auto found = tool.check_outcome(call);
    if (!found.ok()) {
      if (found.status().code() == StatusCode::unimplemented && tool.definition().deduplicates_by_key) {
        // No way to ask, but the system of record applies a key once: sending it again is safe.
        KEEL_RETURN_IF_ERROR(journal_.append(record::outcome_check, step,
                                             {{"tool", tool.definition().name}, {"idempotency_key", call.idempotency_key},
                                              {"happened", false}, {"resent_with_same_key", true}}));
        return std::optional<Json>();
      }
      if (found.status().code() == StatusCode::unimplemented) {
        return Status::failed_precondition(fmt::format(
            "the outcome of {} (key {}) is unknown and the tool has no outcome check; it is never retried blind: "
            "reconcile it in the system of record",
            tool.definition().name, call.idempotency_key));
      }
      return found.status();  // the system of record is down: pause
    }
    KEEL_RETURN_IF_ERROR(journal_.append(record::outcome_check, step,
                                         {{"tool", tool.definition().name}, {"idempotency_key", call.idempotency_key},
                                          {"happened", found->has_value()}}));
    return *found;
  }

  Result<Json> finish(int64_t step, Tool& tool, const Json& result, bool recovered) {
    const auto& def = tool.definition();
    if (auto v = validate_json(def.output_schema, result); !v.empty()) {
      Status bad = Status::data_loss(fmt::format("{} returned a result that breaks its output schema: {}", def.name,
                                                 describe_violations(v)));
      KEEL_RETURN_IF_ERROR(record_outcome_error(step, def.name, bad));
      return bad;
    }
    KEEL_RETURN_IF_ERROR(journal_.append(record::outcome, step,
                                         {{"kind", "tool"}, {"tool", def.name}, {"result", result},
                                          {"recovered_by_outcome_check", recovered}}));
    maybe_kill(kill_, "after-outcome", step);
    if (def.effect == contract::Effect::read) remember_context(step, def.name, result);
    return result;
  }

  void remember_context(int64_t step, const std::string& tool, const Json& result) {
    const Tool* t = tools_.find(tool);
    context_.push_back({{"step", step}, {"tool", tool}, {"source", t ? t->definition().system : ""}, {"result", result}});
  }

  CaseInfo info_;
  CaseJournal& journal_;
  const ToolRegistry& tools_;
  const Policy& policy_;
  ModelClient* model_;
  JournalStore& store_;
  const RunnerOptions& options_;
  std::optional<KillPoint> kill_;
  Json state_;
  Json context_ = Json::array();  // read results so far, with provenance: evidence for approvals
  int64_t next_step_ = 0;
  int64_t new_steps_ = 0;
  int64_t replayed_ = 0;
  int64_t pending_step_ = -1;
};

std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

std::string default_worker_id() { return fmt::format("{}:{}", host_name(), getpid()); }

// A lease held by a process of this host that no longer exists (it crashed or was killed)
// need not be waited out. Owners are "host:pid" (the default worker id).
bool lease_holder_is_dead(const std::string& owner) {
  size_t colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != host_name()) return false;
  char* end = nullptr;
  long pid = std::strtol(owner.c_str() + colon + 1, &end, 10);
  if (pid <= 0 || *end != '\0' || pid == getpid()) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

Status suspended_status(int64_t step) {
  return Status(kSuspendedCode, fmt::format("{}step {} waits for approval", kSuspendedPrefix, step));
}

bool is_suspended(const Status& s) {
  return s.code() == kSuspendedCode && s.message().rfind(kSuspendedPrefix, 0) == 0;
}

CaseRunner::CaseRunner(JournalStore& journal, const ToolRegistry& tools, const Policy& policy,
                       const WorkflowRegistry& workflows, ModelClient* model, RunnerOptions options)
    : journal_(journal), tools_(tools), policy_(policy), workflows_(workflows), model_(model), options_(std::move(options)) {
  if (options_.worker_id.empty()) options_.worker_id = default_worker_id();
}

Result<RunOutcome> CaseRunner::start(const std::string& case_id, const std::string& workflow, const Json& input,
                                     const std::string& principal) {
  if (case_id.empty() || case_id.size() > 200) return Status::invalid_argument("a case id is 1 to 200 characters");
  KEEL_ASSIGN_OR_RETURN(const WorkflowDefinition* def, workflows_.latest(workflow));
  if (!policy_.knows_principal(principal)) {
    return Status::invalid_argument(fmt::format("principal {} is not declared in the spec", principal));
  }
  CaseInfo info;
  info.id = case_id;
  info.workflow = def->name;
  info.version = def->version;
  info.input = input;
  info.principal = principal;
  info.created_ns = info.updated_ns = wall_now_ns();
  info.lease_owner = options_.worker_id;
  info.lease_until_ns = info.created_ns + static_cast<int64_t>(options_.lease_s * 1e9);
  JournalRecord first;
  first.kind = std::string(record::case_started);
  first.data = {{"workflow", def->name}, {"version", def->version}, {"input", input}, {"principal", principal}};
  first.at_ns = info.created_ns;
  KEEL_RETURN_IF_ERROR(journal_.create_case(info, first));
  return run_leased(case_id);
}

Result<RunOutcome> CaseRunner::resume(const std::string& case_id) {
  KEEL_ASSIGN_OR_RETURN(CaseInfo info, journal_.get_case(case_id));
  if (info.state == CaseState::completed || info.state == CaseState::failed) {
    RunOutcome o;
    o.state = info.state;
    o.message = fmt::format("case {} is already {}", case_id, case_state_name(info.state));
    return o;
  }
  Status leased = journal_.acquire(case_id, options_.worker_id, options_.lease_s);
  if (leased.code() == StatusCode::failed_precondition && lease_holder_is_dead(info.lease_owner)) {
    log_info("agent: case {}: its worker {} is gone; taking over", case_id, info.lease_owner);
    leased = journal_.take_over(case_id, info.lease_owner, options_.worker_id, options_.lease_s);
  }
  KEEL_RETURN_IF_ERROR(leased);
  return run_leased(case_id);
}

Result<int64_t> CaseRunner::work(int64_t max_cases) {
  KEEL_ASSIGN_OR_RETURN(ApprovalSweep swept, sweep_approvals());
  for (const auto& e : swept.events) log_info("agent: {}", e);
  int64_t n = 0;
  while (max_cases < 0 || n < max_cases) {
    KEEL_ASSIGN_OR_RETURN(auto id, journal_.claim(options_.worker_id, options_.lease_s));
    if (!id) break;
    auto r = run_leased(*id);
    if (!r.ok()) log_warn("agent: case {}: {}", *id, r.status().to_string());
    ++n;
  }
  return n;
}

Result<RunOutcome> CaseRunner::run_leased(const std::string& case_id) {
  struct Release {
    JournalStore& j;
    const std::string& id;
    const std::string& owner;
    ~Release() { (void)j.release(id, owner); }
  } release{journal_, case_id, options_.worker_id};

  KEEL_ASSIGN_OR_RETURN(CaseInfo info, journal_.get_case(case_id));
  KEEL_ASSIGN_OR_RETURN(const WorkflowDefinition* def, workflows_.find(info.workflow, info.version));
  CaseJournal journal(journal_, case_id);
  KEEL_RETURN_IF_ERROR(journal.load());
  if (journal.records().size() > 1) {
    KEEL_RETURN_IF_ERROR(journal.append(record::resumed, -1, {{"worker", options_.worker_id}}));
  }
  JournaledContext ctx(info, journal, tools_, policy_, model_, journal_, options_, kill_point_from_env());
  auto result = def->run(ctx);
  // Out of space: fail the command with the journal's error (it names the file) and leave the
  // case as it is; writing case_failed would need the space that is missing, and the case
  // is not lost, only stopped.
  if (!journal.write_failure().ok()) return journal.write_failure();

  RunOutcome out;
  out.new_steps = ctx.new_steps();
  out.replayed_steps = ctx.replayed_steps();
  if (result.ok()) {
    KEEL_RETURN_IF_ERROR(journal.append(record::case_completed, -1, {{"result", *result}}, CaseState::completed));
    out.state = CaseState::completed;
    out.result = *result;
    out.message = fmt::format("case {} completed", case_id);
    return out;
  }
  const Status& e = result.status();
  if (is_suspended(e)) {
    out.state = CaseState::waiting_approval;
    out.pending_step = ctx.pending_step();
    out.message = fmt::format("case {} waits for approval of step {}", case_id, ctx.pending_step());
    return out;
  }
  if (e.code() == kSuspendedCode && e.message().rfind(kStepLimitPrefix, 0) == 0) {
    out.paused = true;
    out.message = fmt::format("case {} paused after {} new step(s) (step limit)", case_id, out.new_steps);
    return out;
  }
  if (e.code() == StatusCode::unavailable || e.code() == StatusCode::aborted) {
    // A dependency (model, system of record, journal) is down, or another worker took over:
    // nothing is lost; the case resumes from its journal later.
    out.paused = true;
    out.message = fmt::format("case {} paused: {}", case_id, e.message());
    return out;
  }
  KEEL_RETURN_IF_ERROR(journal.append(record::case_failed, -1, {{"error", e.message()}, {"code", status_code_name(e.code())}},
                                      CaseState::failed));
  out.state = CaseState::failed;
  out.message = fmt::format("case {} failed: {}", case_id, e.message());
  return out;
}

namespace {

// ---- the checks of CaseRunner::decide ----------------------------------------------------------

// The request the statement answers: the approval request of its step, not yet decided.
Result<const JournalRecord*> undecided_request(const CaseJournal& journal, const ApprovalStatement& st) {
  const StepRecords* s = journal.step(st.step);
  if (!s || !s->approval_request) {
    return Status::not_found(fmt::format("case {} has no approval request at step {}", st.case_id, st.step));
  }
  if (s->approval_decision) return Status::already_exists(fmt::format("case {} step {} is already decided", st.case_id, st.step));
  return s->approval_request;
}

// The statement is about the tool the step asks about, and its principal holds a role that may
// approve that tool and did not start the case.
Status check_approver_may_decide(const ApprovalStatement& st, const std::string& tool, const CaseInfo& info,
                                 const Policy& policy) {
  const std::string& approver = st.principal;
  if (st.tool != tool) {
    return Status::failed_precondition(
        fmt::format("the decision names tool {}, but step {} of case {} asks about {}", st.tool, st.step, st.case_id, tool));
  }
  if (!policy.may_approve(approver, tool)) {
    const auto roles = policy.approving_roles(tool);
    return Status::permission_denied(fmt::format("{} does not hold a role that may approve {} ({})", approver, tool,
                                                 fmt::join(roles, ", ")));
  }
  if (info.principal == approver) {
    return Status::permission_denied(fmt::format("{} started case {} and may not approve its own actions", approver, st.case_id));
  }
  return Status();
}

// When the decision was made. A signed statement carries its own date, which must fall within
// the request's lifetime on the runner's clock (give or take kApprovalClockSkewNs); any other
// statement without a date is dated `now`.
Result<int64_t> decision_time(const ApprovalSubmission& submission, const JournalRecord& request_record, int64_t now) {
  const ApprovalStatement& st = submission.statement;
  int64_t decided_at = st.time_ns;
  if (submission.authentication == ApproverAuthentication::signature) {
    const Json& request = request_record.data;
    const int64_t requested = request.value("requested_at_ns", request_record.at_ns);
    if (st.time_ns < requested - kApprovalClockSkewNs || st.time_ns > now + kApprovalClockSkewNs) {
      return Status::permission_denied(fmt::format(
          "the signed decision is dated {} s from now, outside the request's lifetime (requested {} s ago): an "
          "old or post-dated signature cannot answer this request; sign again",
          static_cast<double>(st.time_ns - now) / 1e9, static_cast<double>(now - requested) / 1e9));
    }
  } else if (decided_at == 0) {
    decided_at = now;
  }
  return decided_at;
}

// An approval names the SHA-256 of the arguments its reviewer saw, and it is the request's; a
// denial may name none.
Status check_reviewed_arguments(const ApprovalStatement& st, const std::string& hash) {
  if (st.approve && st.args_sha256.empty()) {
    return Status::invalid_argument(fmt::format(
        "an approval names the SHA-256 of the arguments you reviewed (`keel agent pending` shows it: {}...)",
        hash.substr(0, 12)));
  }
  if (!st.args_sha256.empty() && st.args_sha256 != hash) {
    return Status::failed_precondition(fmt::format(
        "the arguments of step {} are not the ones you reviewed (request {}, yours {}); review them again", st.step,
        hash.substr(0, 12), st.args_sha256.substr(0, 12)));
  }
  return Status();
}

// The journal record of a proven decision: who, when, how they were authenticated (with the
// signature and the signed statement) and what they were shown.
Json decision_record(const ApprovalSubmission& submission, const Json& request, int64_t decided_at,
                     const Policy& policy) {
  const ApprovalStatement& st = submission.statement;
  const std::string tool = request.value("tool", "");
  Json data = {{"tool", tool},
               {"by", st.principal},
               {"args_sha256", request.value("args_sha256", "")},
               {"decided_at_ns", decided_at},
               {"authentication", authentication_name(submission.authentication)},
               {"channel", submission.channel},
               // What the reviewer was shown: the request's arguments, why it needs a human and the
               // evidence gathered before it (what `keel agent pending` prints).
               {"shown",
                {{"tool", tool},
                 {"args", request.value("args", Json::object())},
                 {"why", request.value("why", "")},
                 {"evidence", request.value("evidence", Json::object())}}}};
  if (submission.authentication == ApproverAuthentication::signature) {
    data["statement"] = st.canonical();
    data["signature"] = to_hex(*submission.signature);
    data["public_key"] = contract::format_public_key(*policy.public_key(st.principal));
  }
  data[st.approve ? "note" : "reason"] = st.note;
  return data;
}

}  // namespace

Status CaseRunner::decide(const ApprovalSubmission& submission) {
  const ApprovalStatement& st = submission.statement;
  if (!policy_.knows_principal(st.principal)) {
    return Status::permission_denied(fmt::format("{} is not a principal of this deployment", st.principal));
  }
  KEEL_ASSIGN_OR_RETURN(CaseInfo info, journal_.get_case(st.case_id));
  if (info.state != CaseState::waiting_approval) {
    return Status::failed_precondition(
        fmt::format("case {} is {}, not waiting for an approval", st.case_id, case_state_name(info.state)));
  }
  CaseJournal journal(journal_, st.case_id);
  KEEL_RETURN_IF_ERROR(journal.load());
  KEEL_ASSIGN_OR_RETURN(const JournalRecord* request, undecided_request(journal, st));
  KEEL_RETURN_IF_ERROR(check_approver_may_decide(st, request->data.value("tool", ""), info, policy_));
  KEEL_RETURN_IF_ERROR(authenticate_approval(submission, policy_));
  KEEL_ASSIGN_OR_RETURN(int64_t decided_at, decision_time(submission, *request, clock().unix_now_ns()));
  KEEL_RETURN_IF_ERROR(check_reviewed_arguments(st, request->data.value("args_sha256", "")));
  return journal.append(st.approve ? record::approval_granted : record::approval_denied, st.step,
                        decision_record(submission, request->data, decided_at, policy_), CaseState::running);
}

namespace {

// A pending approval as its request record states it (`steps`: the step's records, for the
// reminder; may be null).
PendingApproval pending_approval_of(const std::string& case_id, const JournalRecord& r, const StepRecords* steps) {
  PendingApproval p{case_id,
                    r.step,
                    r.data.value("tool", ""),
                    r.data.value("args", Json::object()),
                    r.data.value("args_sha256", ""),
                    r.data.value("why", ""),
                    r.data.value("evidence", Json::object()),
                    r.at_ns};
  p.remind_at_ns = r.data.value("remind_at_ns", int64_t{0});
  p.expires_at_ns = r.data.value("expires_at_ns", int64_t{0});
  p.reminded = steps && steps->approval_reminder;
  return p;
}

}  // namespace

Result<PendingApproval> CaseRunner::pending_request(const std::string& case_id, int64_t step) {
  CaseJournal journal(journal_, case_id);
  KEEL_RETURN_IF_ERROR(journal.load());
  const StepRecords* s = journal.step(step);
  if (!s || !s->approval_request || s->approval_decision) {
    return Status::not_found(fmt::format("case {} has no pending approval at step {} (see `keel agent pending`)", case_id, step));
  }
  return pending_approval_of(case_id, *s->approval_request, s);
}

Result<std::vector<PendingApproval>> CaseRunner::pending() {
  KEEL_ASSIGN_OR_RETURN(auto cases, journal_.list_cases(CaseState::waiting_approval));
  std::vector<PendingApproval> out;
  for (const auto& c : cases) {
    CaseJournal journal(journal_, c.id);
    KEEL_RETURN_IF_ERROR(journal.load());
    for (const auto& r : journal.records()) {
      if (r.kind != record::approval_requested) continue;
      const StepRecords* s = journal.step(r.step);
      if (s && s->approval_decision) continue;
      out.push_back(pending_approval_of(c.id, r, s));
    }
  }
  return out;
}

Result<ApprovalSweep> CaseRunner::sweep_approvals() {
  ApprovalSweep out;
  const int64_t now = clock().unix_now_ns();
  KEEL_ASSIGN_OR_RETURN(auto cases, journal_.list_cases(CaseState::waiting_approval));
  for (const auto& c : cases) {
    CaseJournal journal(journal_, c.id);
    KEEL_RETURN_IF_ERROR(journal.load());
    std::vector<const JournalRecord*> requests;
    for (const auto& r : journal.records()) {
      if (r.kind == record::approval_requested) requests.push_back(&r);
    }
    for (const JournalRecord* r : requests) {
      const StepRecords* s = journal.step(r->step);
      if (!s || s->approval_decision) continue;
      const std::string tool = r->data.value("tool", "");
      const int64_t requested = r->data.value("requested_at_ns", int64_t{0});
      const int64_t remind = r->data.value("remind_at_ns", int64_t{0});
      const int64_t expires = r->data.value("expires_at_ns", int64_t{0});
      const double waited_s = static_cast<double>(now - requested) / 1e9;
      if (expires > 0 && now >= expires) {
        Json denial = {{"tool", tool},
                       {"by", "keel"},
                       {"authentication", "deadline"},
                       {"decided_at_ns", now},
                       {"args_sha256", r->data.value("args_sha256", "")},
                       {"reason", fmt::format("expired: no decision within {} s",
                                              static_cast<double>(expires - requested) / 1e9)},
                       {"expired", true}};
        Status st = journal.append(record::approval_denied, r->step, denial, CaseState::running);
        if (st.code() == StatusCode::aborted) continue;  // a reviewer decided meanwhile
        KEEL_RETURN_IF_ERROR(st);
        ++out.expired;
        out.events.push_back(fmt::format(
            "case {} step {}: the approval of {} expired after {} s; the action is denied", c.id,
            r->step, tool, waited_s));
      } else if (remind > 0 && now >= remind && !s->approval_reminder) {
        Status st =
            journal.append(record::approval_reminded, r->step,
                           {{"tool", tool}, {"waited_s", waited_s}, {"expires_at_ns", expires}});
        if (st.code() == StatusCode::aborted) continue;
        KEEL_RETURN_IF_ERROR(st);
        ++out.reminded;
        out.events.push_back(
            fmt::format("case {} step {}: the approval of {} has waited {} s; reviewers reminded",
                        c.id, r->step, tool, waited_s));
      }
    }
  }
  return out;
}

}  // namespace keel::agent
