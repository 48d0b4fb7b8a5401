// How each fault a spec may inject is detected, answered and recovered from, and what
// evidence shows that it was. Text is specialised where a scenario handles a fault its own way.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cassert>

#include "contract/plan_builder.h"

namespace keel::contract {

namespace {

bool is_durable_agent(const Spec& spec) {
  return spec.scenario == ScenarioId::durable_agent;
}
bool is_llm_service(const Spec& spec) {
  return spec.scenario == ScenarioId::llm_service;
}

FailureResponse plan_fault_for_model_restart(const Spec& spec) {
  const bool agent = is_durable_agent(spec);
  FailureResponse r;
  r.detection = is_llm_service(spec)
                    ? "readiness probe fails; in-flight streams see the engine stop"
                    : "model call fails with unavailable or the connection drops";
  r.response = agent ? "the case's model step has no outcome record, so it stays pending"
                     : "requests in flight end with a typed unavailable error; no partial "
                       "answer is presented as complete";
  r.recovery = agent ? "the step is re-run after the model is back (model calls are "
                       "side-effect free); the case resumes where it was"
                     : "the model reloads; /readyz turns ready after the warm-up pass";
  r.evidence = agent ? "journal shows one intent and one outcome per step"
                     : "keel_requests_total{status=\"503\"} and readiness transitions";
  return r;
}

FailureResponse plan_fault_for_worker_kill(const Spec& spec) {
  const bool agent = is_durable_agent(spec);
  FailureResponse r;
  r.detection = agent ? "the case's lease expires" : "the supervisor sees the process exit";
  r.response = agent ? "another worker (or the restarted one) claims the case"
                     : "the process is restarted; clients retry with backoff";
  r.recovery = agent ? "state is rebuilt from the journal; completed steps are not re-run; "
                       "an in-flight write is resolved by its outcome check"
                     : "durable state is reopened; nothing acknowledged is lost";
  r.evidence = agent ? "system of record ledger: each intended action exactly once"
                     : "store integrity check on open passes";
  return r;
}

FailureResponse plan_fault_for_disk_full(const Spec& spec) {
  const bool agent = is_durable_agent(spec);
  FailureResponse r;
  r.detection = "a write returns ENOSPC (SQLite: database or disk is full)";
  r.response = agent ? "the journal append rolls back; the case pauses (it is not failed) and "
                       "the command reports resource_exhausted naming the journal file"
                     : "the current transaction rolls back; the operation fails with "
                       "resource_exhausted naming the path";
  r.recovery = agent ? "resume after space is freed: the journal replays, an effect already "
                       "made is found by its outcome check, nothing runs twice"
                     : "retry after space is freed; nothing half-written remains";
  r.evidence = "the error names the file; the store passes its integrity check afterwards";
  return r;
}

FailureResponse plan_fault_for_storage_corrupt(const Spec& spec) {
  FailureResponse r;
  r.detection = "integrity check or checksum mismatch when the store is opened";
  r.response = "refuse to serve from it with data_loss and the file's path";
  r.recovery = spec.scenario == ScenarioId::local_research
                   ? "rebuild the index from the documents (`keel index`)"
                   : "restore from the last good copy or rebuild from the source of truth";
  r.evidence = "the refusal message; no answer served from a corrupt store";
  return r;
}

FailureResponse plan_fault_for_db_stop(const Spec& spec) {
  FailureResponse r;
  r.detection = "queries fail with connection errors";
  r.response = is_durable_agent(spec) ? "the worker pauses the case; nothing is acknowledged "
                                        "that is not durable"
                                      : "requests fail with unavailable; no partial results";
  if (spec.scenario == ScenarioId::enterprise_rag) {
    r.response = "requests fail with 503 warehouse_unavailable and Retry-After; no partial answer";
    r.recovery = "each request reconnects when the database is back; nothing is left to resume";
    r.evidence = "the 503 body carries no answer text; the next request after the restart is answered";
    return r;
  }
  r.recovery = "reconnect with backoff when the database is back; resume from the journal";
  r.evidence = "journal continuity: no step lost or repeated";
  return r;
}

FailureResponse plan_fault_for_overload(const Spec& spec) {
  FailureResponse r;
  r.detection = "waiting requests, queued tokens or KV use reach their bounds";
  r.response = spec.failure.on_overload
                   ? fmt::format(
                         "HTTP {} with Retry-After (at least {} s) and "
                         "{{\"error\":{{\"type\":\"overloaded\"}}}}",
                         spec.failure.on_overload->status, spec.failure.on_overload->retry_after_s)
                   : std::string("reject new work with resource_exhausted and a retry hint");
  r.recovery = "admission reopens as the queue drains; memory stays flat meanwhile";
  r.evidence = "keel_admission_rejections_total{reason}; every refusal carries Retry-After";
  return r;
}

FailureResponse plan_fault_for_approval_timeout(const Spec& spec) {
  std::vector<std::string> remind, expire;
  for (const auto& t : spec.authority.tools) {
    if (t.approval == Approval::none) continue;
    if (t.approval_remind_after_s)
      remind.push_back(fmt::format("{} after {} s", t.name, *t.approval_remind_after_s));
    if (t.approval_expire_after_s)
      expire.push_back(fmt::format("{} after {} s", t.name, *t.approval_expire_after_s));
  }
  FailureResponse r;
  r.detection = remind.empty() && expire.empty()
                    ? "no tool declares approval_remind_after_s or approval_expire_after_s: "
                      "nothing watches a pending approval"
                    : "`keel agent work` compares each pending approval's age with its tool's "
                      "deadlines (an injected clock in tests)";
  r.response = remind.empty() ? "the case stays suspended (nothing executes); nobody is reminded"
                              : fmt::format(
                                    "the case stays suspended (nothing executes); a "
                                    "reminder is journaled ({})",
                                    fmt::join(remind, "; "));
  r.recovery = expire.empty() ? "approve or deny resumes the case; without a decision it waits"
                              : fmt::format(
                                    "an undecided request expires ({}): it is denied and "
                                    "the case continues without the action",
                                    fmt::join(expire, "; "));
  r.evidence = "journal records approval_reminded and approval_denied (expired: true)";
  return r;
}

FailureResponse plan_fault_for_model_unfit(const Spec& spec) {
  const bool agent = is_durable_agent(spec);
  const bool service = is_llm_service(spec);
  std::vector<std::string> with_fallbacks;
  for (const auto& m : spec.deployment.models) {
    if (!m.fallbacks.empty())
      with_fallbacks.push_back(m.id + " -> " + fmt::format("{}", fmt::join(m.fallbacks, ", ")));
  }
  FailureResponse r;
  if (spec.scenario == ScenarioId::browser_classifier) {
    r.detection = "navigator.deviceMemory is below the page's memory budget";
    r.response = "load no model and start no Worker; the form, with the reason";
    r.recovery = "the form files the document without a suggestion";
    r.evidence = "keel_web_browser_fallbacks_total{reason=\"memory\"}";
    return r;
  }
  r.detection = agent ? "none: keel agent loads its model without a memory-fit estimate"
                : service
                    ? "the engine's memory-fit estimate exceeds available memory (keel serve "
                      "does not read max_ram_mb)"
                    : "the engine's memory-fit estimate exceeds max_ram_mb or available memory";
  r.response =
      agent ? std::string("the load fails however the operating system fails it")
      : !service && spec.failure.on_model_unfit == OnModelUnfit::fallback && !with_fallbacks.empty()
          ? fmt::format("load the approved fallback ({})", fmt::join(with_fallbacks, "; "))
          : std::string("refuse before loading, stating needed and available bytes");
  r.recovery =
      agent ? "none planned" : "no partial load; the process never exceeds its memory bound";
  r.evidence = agent ? "none" : "the fit decision with its numbers on stderr";
  return r;
}

FailureResponse plan_fault_for_connectivity_loss(const Spec& spec) {
  FailureResponse r;
  r.detection = "the connectivity monitor reports no link or a deadline miss";
  r.response = spec.failure.on_route_unavailable == OnRouteUnavailable::fail_closed
                   ? "requests whose route needs the network fail closed; others run locally"
                   : "requests wait in the durable queue";
  r.recovery = "queued commands sync when the link returns, once each";
  r.evidence = "keel_route_decisions_total{outcome,route}; keel_offline_success_ratio; keel field asks (each reason)";
  return r;
}

// Faults whose handling reads nothing from the spec: the same text in every scenario.
struct FixedFaultText {
  Fault fault;
  const char* detection;
  const char* response;
  const char* recovery;
  const char* evidence;
};

constexpr FixedFaultText kFixedFaultTexts[] = {
    {Fault::client_disconnect, "the socket closes or a write to it fails",
     "the request's generation is cancelled", "its KV blocks return to the free list at once",
     "keel_requests_total{status=\"499\"}; keel_requests_running back to 0"},
    {Fault::tool_timeout, "a tool call exceeds its timeout; its outcome is unknown",
     "the step records outcome unknown; no blind retry",
     "the tool's outcome check looks the idempotency key up in the system of "
     "record; retry only if the write did not happen",
     "an outcome_check journal record; the system of record's ledger shows one effect"},
    {Fault::kv_exhausted, "no free KV block for a running sequence",
     "evict unreferenced prefix blocks, then preempt the newest sequence",
     "the preempted sequence is re-queued and recomputed",
     "keel_kv_preemptions_total; the preempted request's output equals an unpressured run's"},
    {Fault::egress_attempt, "socket(AF_INET/AF_INET6) fails inside the guarded process",
     "the attempt fails with EACCES; no byte leaves",
     "none needed: the answer path uses no network",
     "the guard's EACCES; strace shows no inet socket returned"},
    {Fault::stale_index, "document size/mtime (then hash) differ from the index",
     "answers report stale documents; citations to changed text fail validation",
     "`keel index` re-indexes only the changed files",
     "`keel index status` lists the stale documents"},
    {Fault::policy_store_unavailable, "the policy cannot be loaded or evaluated",
     "deny (fail closed); no context is released",
     "serve again once the policy loads; decisions are re-evaluated",
     "the refusal; no passage or figure is released while the policy is missing"},
    {Fault::backend_unavailable, "WebNN/WebGPU probe fails or compilation throws",
     "select the next backend (WebGPU, then Wasm)",
     "if no backend works, the non-AI form carries on alone",
     "the provider and each skipped provider's reason in the page's measurements; "
     "keel_web_browser_sessions_total{provider}"},
    {Fault::storage_evicted, "the cached model is missing or its hash does not match",
     "re-download and verify; the form works meanwhile", "the cache is refilled by content hash",
     "keel_web_browser_sessions_total{load=\"cold\"} vs {load=\"warm\"}"},
    {Fault::delegate_failure, "the delegate fails to prepare or errors at run time",
     "run those partitions on CPU within the latency budget",
     "retry the delegate at the next load; coverage is reported; outside the spec's bounds the "
     "smaller model runs on the CPU",
     "keel_delegate_coverage_ratio"},
    {Fault::thermal_throttle, "thermal state rises past the budget",
     "lower the frame rate, then switch to the smaller model",
     "restore full rate when the device cools", "keel_thermal_state; p99 latency stays in budget"},
    {Fault::update_corrupt,
     "the model's signed manifest does not verify under the pinned key, or its bytes do not "
     "hash to the signed SHA-256",
     "refuse it before use (a device discards the staged model; a page offers the form)",
     "keep running the last good model; the form works without one",
     "keel_web_browser_fallbacks_total{reason} (browser); "
     "keel_model_updates_total{outcome=\"refused\"} (device)"},
    {Fault::remote_unavailable, "the private-cloud model does not answer within the deadline",
     "fail closed for data that may not run locally elsewhere; local model for "
     "the rest",
     "route again when the endpoint recovers", "keel_route_fallbacks_total"},
    {Fault::sync_conflict, "the server's version is newer than the change's base version",
     "the change is not applied; the conflict is recorded with both versions",
     "resolve by the declared rule or by the user; resend with the new base",
     "keel_sync_conflicts_total; no lost update"},
};

FailureResponse plan_fault_with_fixed_text(Fault fault) {
  FailureResponse r;
  for (const auto& text : kFixedFaultTexts) {
    if (text.fault != fault) continue;
    r.detection = text.detection;
    r.response = text.response;
    r.recovery = text.recovery;
    r.evidence = text.evidence;
    return r;
  }
  assert(false && "a fault routed to the fixed texts has no row in kFixedFaultTexts");
  return r;
}

// The switch has no default so that a new Fault does not compile until it is planned here.
FailureResponse plan_fault_handling(Fault fault, const Spec& spec) {
  switch (fault) {
    case Fault::model_restart:
      return plan_fault_for_model_restart(spec);
    case Fault::worker_kill:
      return plan_fault_for_worker_kill(spec);
    case Fault::disk_full:
      return plan_fault_for_disk_full(spec);
    case Fault::storage_corrupt:
      return plan_fault_for_storage_corrupt(spec);
    case Fault::db_stop:
      return plan_fault_for_db_stop(spec);
    case Fault::overload:
      return plan_fault_for_overload(spec);
    case Fault::approval_timeout:
      return plan_fault_for_approval_timeout(spec);
    case Fault::model_unfit:
      return plan_fault_for_model_unfit(spec);
    case Fault::connectivity_loss:
      return plan_fault_for_connectivity_loss(spec);
    case Fault::client_disconnect:
    case Fault::tool_timeout:
    case Fault::kv_exhausted:
    case Fault::egress_attempt:
    case Fault::stale_index:
    case Fault::policy_store_unavailable:
    case Fault::backend_unavailable:
    case Fault::storage_evicted:
    case Fault::delegate_failure:
    case Fault::thermal_throttle:
    case Fault::update_corrupt:
    case Fault::remote_unavailable:
    case Fault::sync_conflict:
      return plan_fault_with_fixed_text(fault);
  }
  return {};
}

}  // namespace

FailureResponse plan_fault(Fault fault, const Spec& spec) {
  FailureResponse r = plan_fault_handling(fault, spec);
  r.fault = std::string(enum_name(fault));
  return r;
}

}  // namespace keel::contract
