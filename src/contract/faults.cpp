// How each fault a spec may inject is detected, answered and recovered from, and what
// evidence shows that it was. Text is specialised where a scenario handles a fault its own way.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "contract/plan_builder.h"

namespace keel::contract {

FailureResponse plan_fault(Fault fault, const Spec& spec) {
  FailureResponse r;
  r.fault = std::string(enum_name(fault));
  const bool agent = spec.scenario == ScenarioId::durable_agent;
  const bool service = spec.scenario == ScenarioId::llm_service;
  switch (fault) {
    case Fault::model_restart:
      r.detection = service ? "readiness probe fails; in-flight streams see the engine stop"
                            : "model call fails with unavailable or the connection drops";
      r.response = agent ? "the case's model step has no outcome record, so it stays pending"
                         : "requests in flight end with a typed unavailable error; no partial "
                           "answer is presented as complete";
      r.recovery = agent ? "the step is re-run after the model is back (model calls are "
                           "side-effect free); the case resumes where it was"
                         : "the model reloads; /readyz turns ready after the warm-up pass";
      r.evidence = agent ? "journal shows one intent and one outcome per step"
                         : "keel_requests_total{status=\"503\"} and readiness transitions";
      break;
    case Fault::worker_kill:
      r.detection = agent ? "the case's lease expires" : "the supervisor sees the process exit";
      r.response = agent ? "another worker (or the restarted one) claims the case"
                         : "the process is restarted; clients retry with backoff";
      r.recovery = agent ? "state is rebuilt from the journal; completed steps are not re-run; "
                           "an in-flight write is resolved by its outcome check"
                         : "durable state is reopened; nothing acknowledged is lost";
      r.evidence = agent ? "system of record ledger: each intended action exactly once"
                         : "store integrity check on open passes";
      break;
    case Fault::disk_full:
      r.detection = "a write returns ENOSPC (SQLite: database or disk is full)";
      r.response = agent ? "the journal append rolls back; the case pauses (it is not failed) and "
                           "the command reports resource_exhausted naming the journal file"
                         : "the current transaction rolls back; the operation fails with "
                           "resource_exhausted naming the path";
      r.recovery = agent ? "resume after space is freed: the journal replays, an effect already "
                           "made is found by its outcome check, nothing runs twice"
                         : "retry after space is freed; nothing half-written remains";
      r.evidence = "the error names the file; the store passes its integrity check afterwards";
      break;
    case Fault::storage_corrupt:
      r.detection = "integrity check or checksum mismatch when the store is opened";
      r.response = "refuse to serve from it with data_loss and the file's path";
      r.recovery = spec.scenario == ScenarioId::local_research
                       ? "rebuild the index from the documents (`keel index`)"
                       : "restore from the last good copy or rebuild from the source of truth";
      r.evidence = "the refusal message; no answer served from a corrupt store";
      break;
    case Fault::db_stop:
      r.detection = "queries fail with connection errors";
      r.response = agent ? "the worker pauses the case; nothing is acknowledged that is not "
                           "durable"
                         : "requests fail with unavailable; no partial results";
      r.recovery = "reconnect with backoff when the database is back; resume from the journal";
      r.evidence = "journal continuity: no step lost or repeated";
      break;
    case Fault::overload:
      r.detection = "waiting requests, queued tokens or KV use reach their bounds";
      r.response = spec.failure.on_overload
                       ? fmt::format("HTTP {} with Retry-After (at least {} s) and "
                                     "{{\"error\":{{\"type\":\"overloaded\"}}}}",
                                     spec.failure.on_overload->status,
                                     spec.failure.on_overload->retry_after_s)
                       : std::string("reject new work with resource_exhausted and a retry hint");
      r.recovery = "admission reopens as the queue drains; memory stays flat meanwhile";
      r.evidence = "keel_admission_rejections_total{reason}; every refusal carries Retry-After";
      break;
    case Fault::client_disconnect:
      r.detection = "the socket closes or a write to it fails";
      r.response = "the request's generation is cancelled";
      r.recovery = "its KV blocks return to the free list at once";
      r.evidence = "keel_requests_total{status=\"499\"}; keel_requests_running back to 0";
      break;
    case Fault::tool_timeout:
      r.detection = "a tool call exceeds its timeout; its outcome is unknown";
      r.response = "the step records outcome unknown; no blind retry";
      r.recovery = "the tool's outcome check looks the idempotency key up in the system of "
                   "record; retry only if the write did not happen";
      r.evidence =
          "an outcome_check journal record; the system of record's ledger shows one effect";
      break;
    case Fault::approval_timeout: {
      std::vector<std::string> remind, expire;
      for (const auto& t : spec.authority.tools) {
        if (t.approval == Approval::none) continue;
        if (t.approval_remind_after_s)
          remind.push_back(fmt::format("{} after {} s", t.name, *t.approval_remind_after_s));
        if (t.approval_expire_after_s)
          expire.push_back(fmt::format("{} after {} s", t.name, *t.approval_expire_after_s));
      }
      r.detection = remind.empty() && expire.empty()
                        ? "no tool declares approval_remind_after_s or approval_expire_after_s: "
                          "nothing watches a pending approval"
                        : "`keel agent work` compares each pending approval's age with its tool's "
                          "deadlines (an injected clock in tests)";
      r.response = remind.empty()
                       ? "the case stays suspended (nothing executes); nobody is reminded"
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
      break;
    }
    case Fault::model_unfit: {
      std::vector<std::string> with_fallbacks;
      for (const auto& m : spec.deployment.models) {
        if (!m.fallbacks.empty()) with_fallbacks.push_back(m.id + " -> " + fmt::format("{}", fmt::join(m.fallbacks, ", ")));
      }
      r.detection = agent ? "none: keel agent loads its model without a memory-fit estimate"
                    : service
                        ? "the engine's memory-fit estimate exceeds available memory (keel serve "
                          "does not read max_ram_mb)"
                        : "the engine's memory-fit estimate exceeds max_ram_mb or available memory";
      r.response =
          agent ? std::string("the load fails however the operating system fails it")
          : !service && spec.failure.on_model_unfit == OnModelUnfit::fallback &&
                  !with_fallbacks.empty()
              ? fmt::format("load the approved fallback ({})", fmt::join(with_fallbacks, "; "))
              : std::string("refuse before loading, stating needed and available bytes");
      r.recovery =
          agent ? "none planned" : "no partial load; the process never exceeds its memory bound";
      r.evidence = agent ? "none" : "the fit decision with its numbers on stderr";
      break;
    }
    case Fault::kv_exhausted:
      r.detection = "no free KV block for a running sequence";
      r.response = "evict unreferenced prefix blocks, then preempt the newest sequence";
      r.recovery = "the preempted sequence is re-queued and recomputed";
      r.evidence =
          "keel_kv_preemptions_total; the preempted request's output equals an unpressured run's";
      break;
    case Fault::egress_attempt:
      r.detection = "socket(AF_INET/AF_INET6) fails inside the guarded process";
      r.response = "the attempt fails with EACCES; no byte leaves";
      r.recovery = "none needed: the answer path uses no network";
      r.evidence = "the guard's EACCES; strace shows no inet socket returned";
      break;
    case Fault::stale_index:
      r.detection = "document size/mtime (then hash) differ from the index";
      r.response = "answers report stale documents; citations to changed text fail validation";
      r.recovery = "`keel index` re-indexes only the changed files";
      r.evidence = "`keel index status` lists the stale documents";
      break;
    case Fault::policy_store_unavailable:
      r.detection = "the policy cannot be loaded or evaluated";
      r.response = "deny (fail closed); no context is released";
      r.recovery = "serve again once the policy loads; decisions are re-evaluated";
      r.evidence = "keel_policy_denials_total{reason=\"policy_unavailable\"}";
      break;
    case Fault::backend_unavailable:
      r.detection = "WebNN/WebGPU probe fails or compilation throws";
      r.response = "select the next backend (WebGPU, then Wasm)";
      r.recovery = "if no backend works, the non-AI form carries on alone";
      r.evidence = "keel_fallback_total{reason}";
      break;
    case Fault::storage_evicted:
      r.detection = "the cached model is missing or its hash does not match";
      r.response = "re-download and verify; the form works meanwhile";
      r.recovery = "the cache is refilled by content hash";
      r.evidence = "keel_model_cache_hits_total vs downloads";
      break;
    case Fault::delegate_failure:
      r.detection = "the delegate fails to prepare or errors at run time";
      r.response = "run those partitions on CPU within the latency budget";
      r.recovery = "retry the delegate at the next load; coverage is reported";
      r.evidence = "keel_delegate_coverage_ratio";
      break;
    case Fault::thermal_throttle:
      r.detection = "thermal state rises past the budget";
      r.response = "lower the frame rate, then switch to the smaller model";
      r.recovery = "restore full rate when the device cools";
      r.evidence = "keel_thermal_state; p99 latency stays in budget";
      break;
    case Fault::update_corrupt:
      r.detection = "the staged model's SHA-256 does not match the one pinned in the spec";
      r.response = "discard the staged model";
      r.recovery = "keep running the last good model";
      r.evidence = "keel_model_updates_total{outcome=\"rejected\"}";
      break;
    case Fault::connectivity_loss:
      r.detection = "the connectivity monitor reports no link or a deadline miss";
      r.response = spec.failure.on_route_unavailable == OnRouteUnavailable::fail_closed
                       ? "requests whose route needs the network fail closed; others run locally"
                       : "requests wait in the durable queue";
      r.recovery = "queued commands sync when the link returns, once each";
      r.evidence = "keel_route_decisions_total{reason}; keel_offline_success_ratio";
      break;
    case Fault::remote_unavailable:
      r.detection = "the private-cloud model does not answer within the deadline";
      r.response = "fail closed for data that may not run locally elsewhere; local model for "
                   "the rest";
      r.recovery = "route again when the endpoint recovers";
      r.evidence = "keel_route_fallbacks_total";
      break;
    case Fault::sync_conflict:
      r.detection = "the server's version is newer than the change's base version";
      r.response = "the change is not applied; the conflict is recorded with both versions";
      r.recovery = "resolve by the declared rule or by the user; resend with the new base";
      r.evidence = "keel_sync_conflicts_total; no lost update";
      break;
  }
  return r;
}

}  // namespace keel::contract
