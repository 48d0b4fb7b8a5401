#include "contract/fault_injections.h"

namespace keel::contract {

namespace {

using F = Fault;
using S = ScenarioId;

// The egress guard is the same seccomp filter for every runtime that installs it: profile
// no_sockets for keel run, ask, eval and agent; inbound_only for keel serve --spec. Its tests
// attack it from every thread of a guarded child process.
constexpr std::string_view kEgressGuardTest =
    "tests/contract/egress_guard_test.cpp EgressGuard.RefusesEverySocketFamilyInEveryThread";
constexpr std::string_view kEgressGuardHow =
    "socket() of every family, socketpair() and io_uring from every thread of a guarded process";
constexpr std::string_view kEgressCutOffTest =
    "tests/contract/egress_guard_test.cpp EgressGuard.NoSocketsCutsOffWhatTheProcessAlreadyHad";
constexpr std::string_view kEgressCutOffHow = "sockets opened before the guard, then used after it";
// Memory fit is engine::choose_model, which keel run and keel serve call before loading.
constexpr std::string_view kMemoryFitTest =
    "tests/engine/memory_fit_test.cpp MemoryFit.RefusesWithNumbersAndFallsBack";
constexpr std::string_view kMemoryFitHow =
    "a memory budget below the model's estimate: refused with the numbers, or the fallback chosen";

constexpr FaultInjection kInjections[] = {
    // local-research
    {F::egress_attempt, S::local_research, kEgressGuardTest, kEgressGuardHow},
    {F::egress_attempt, S::local_research, kEgressCutOffTest, kEgressCutOffHow},
    {F::model_unfit, S::local_research, kMemoryFitTest, kMemoryFitHow},
    {F::storage_corrupt, S::local_research,
     "tests/context/indexer_test.cpp Store.DamagedStoresAreRecognisedOnOpen",
     "junk and overwritten bytes in the store file; opening it is data_loss"},
    {F::stale_index, S::local_research,
     "tests/context/indexer_test.cpp Indexer.IndexesIncrementallyAndReportsFreshness",
     "documents changed, added, deleted and touched after indexing; freshness names each"},
    {F::stale_index, S::local_research,
     "tests/context/indexer_test.cpp Citations.ValidOnlyWhenRetrievedAndTheDocumentStillMatches",
     "a cited document edited after indexing; its citation fails validation"},
    {F::disk_full, S::local_research,
     "tests/context/disk_full_test.cpp IndexerDiskFull.FailsNamingTheStoreAndLeavesItConsistent",
     "the store on a small tmpfs full before a run, and filling between two documents (a real "
     "ENOSPC)"},
    {F::disk_full, S::local_research,
     "tests/context/disk_full_test.cpp IndexerDiskFull.AVectorIndexCutShortIsNeverPutInPlace",
     "the tmpfs fills just before the vector index is rewritten"},

    // enterprise-rag
    {F::db_stop, S::enterprise_rag,
     "tests/apps/rag_serve_test.cpp RagServe.AStoppedWarehouseIs503WithNoPartialAnswerAndServiceResumes",
     "PostgreSQL stopped under keel rag serve, then started again"},
    {F::overload, S::enterprise_rag,
     "tests/apps/rag_serve_test.cpp RagServe.OverloadIsRefusedWithRetryAfterAndTheAdmittedAnswerCompletes",
     "the one worker held inside its query by a table lock while another request arrives"},
    {F::policy_store_unavailable, S::enterprise_rag,
     "tests/apps/rag_serve_test.cpp RagServe.AMissingPolicyViewFailsClosed",
     "the warehouse's document policy view dropped under the server"},

    // llm-service
    {F::overload, S::llm_service,
     "tests/apps/serve_test.cpp Serve.OverloadIsRefusedWithRetryAfterAndAdmittedRequestsComplete",
     "ten times the load against a bounded queue"},
    {F::overload, S::llm_service,
     "tests/apps/serve_test.cpp Serve.OpenAIClientHonoursRetryAfterUnderOverload",
     "the official openai client against a full queue"},
    {F::kv_exhausted, S::llm_service,
     "tests/serve/scheduler_test.cpp "
     "SchedulerTest.AKvPoolTooSmallPreemptsAndRecomputesWithTheSameOutput",
     "a KV pool of one context for four growing requests: preempted, recomputed, same output"},
    {F::client_disconnect, S::llm_service,
     "tests/apps/serve_test.cpp Serve.ClientDisconnectCancelsGeneration",
     "the client closes its socket after the first streamed chunk"},
    {F::egress_attempt, S::llm_service, kEgressGuardTest, kEgressGuardHow},
    {F::egress_attempt, S::llm_service,
     "tests/contract/egress_guard_test.cpp "
     "EgressGuard.InboundOnlyServesAcceptedConnectionsButOpensNone",
     "a guarded server's accepted connection keeps working while every new socket is refused"},
    {F::model_unfit, S::llm_service, kMemoryFitTest, kMemoryFitHow},

    // durable-agent
    {F::worker_kill, S::durable_agent,
     "tests/apps/agent_test.cpp "
     "AgentCommand.AWorkerKilledAtAnyPointStillTakesEachActionExactlyOnce",
     "SIGKILL of `keel agent run` before, during and after every step's effect"},
    {F::tool_timeout, S::durable_agent,
     "tests/agent/case_runner_test.cpp CaseRunnerTest.AnUnknownOutcomeIsCheckedNeverRetriedBlind",
     "the order system commits a write, then reports a timeout"},
    {F::model_restart, S::durable_agent,
     "tests/apps/agent_test.cpp AgentCommand.AModelServerRestartPausesTheCaseAndItResumes",
     "the model server (keel serve) killed mid-case and started again"},
    {F::db_stop, S::durable_agent,
     "tests/apps/agent_test.cpp AgentCommand.APostgresJournalRidesOutADatabaseStop",
     "PostgreSQL stopped mid-case, then started"},
    {F::db_stop, S::durable_agent,
     "tests/agent/journal_test.cpp PostgresJournal.ADatabaseRestartIsUnavailableThenRecovers",
     "PostgreSQL stopped under an open journal, then started"},
    {F::storage_corrupt, S::durable_agent,
     "tests/agent/journal_test.cpp SqliteJournal.ACorruptFileIsDataLoss",
     "a journal file that is not a database"},
    {F::disk_full, S::durable_agent,
     "tests/agent/disk_full_test.cpp JournalDiskFull.ACaseOnAFullDiskPausesAndResumesExactlyOnce",
     "the journal on a small tmpfs filled up (a real ENOSPC)"},
    {F::approval_timeout, S::durable_agent,
     "tests/agent/approval_deadline_test.cpp "
     "ApprovalDeadline.APendingApprovalIsRemindedThenExpires",
     "an injected clock moved past the tool's reminder and expiry times"},
    {F::egress_attempt, S::durable_agent, kEgressGuardTest, kEgressGuardHow},
    {F::egress_attempt, S::durable_agent, kEgressCutOffTest, kEgressCutOffHow},
    // browser-classifier: Debian's Chromium against keel web serve (tests/web, run by these)
    {F::backend_unavailable, S::browser_classifier,
     "tests/apps/browser_classifier_test.cpp "
     "BrowserClassifier.WithoutAUsableGpuItRunsOnWasmAndSaysWhy",
     "Chromium without a GPU adapter (no WebNN, no WebGPU), then with SwiftShader's software "
     "WebGPU: Wasm classifies and each skipped provider's reason is shown"},
    {F::storage_evicted, S::browser_classifier,
     "tests/apps/browser_classifier_test.cpp "
     "BrowserClassifier.AFirstVisitVerifiesAndASecondFetchesOnlyThePage",
     "the model in Cache Storage corrupted between visits: deleted, downloaded and verified "
     "again"},
    {F::update_corrupt, S::browser_classifier,
     "tests/apps/browser_classifier_test.cpp "
     "BrowserClassifier.ATamperedModelOrAnotherSignerLeavesTheForm",
     "one byte of the published model flipped; a manifest signed by another key: refused, "
     "the form offered"},
    {F::model_unfit, S::browser_classifier,
     "tests/apps/browser_classifier_test.cpp "
     "BrowserClassifier.LowMemoryAndNoJavaScriptStillFileTheDocument",
     "navigator.deviceMemory reported as 256 MB: no Worker, no download, the form with the "
     "reason"},
    // mobile-vision: keel run --video and keel edge update against the committed models
    {F::delegate_failure, S::mobile_vision,
     "tests/apps/vision_run_test.cpp VisionRun.ADelegateThatFailsToPrepareLeavesTheSmallerCpuModelRunning",
     "the NPU delegate of phone-npu-dw made to fail preparation (--inject-delegate-failure): "
     "coverage 0 is out of the spec's bounds, the smaller model runs on the CPU"},
    {F::thermal_throttle, S::mobile_vision,
     "tests/apps/vision_run_test.cpp VisionRun.HeatLowersTheFrameRateThenSwitchesToTheSmallerModel",
     "a scripted temperature rising from 35 to 47 to 52 °C across the video"},
    {F::update_corrupt, S::mobile_vision,
     "tests/apps/edge_update_test.cpp EdgeUpdate.TamperedUnsignedDowngradedAndForeignUpdatesAreRefused",
     "a signed update's payload edited, one signed by another key, an older version and one for "
     "another device class: refused, the last good program keeps running"},
    {F::update_corrupt, S::mobile_vision,
     "tests/apps/edge_update_test.cpp "
     "EdgeUpdate.KilledAtEveryStepTheDeviceKeepsAWorkingProgramAndTheUpdateThenInstalls",
     "keel edge update install SIGKILLed at each of its six steps"},
    {F::model_unfit, S::mobile_vision,
     "tests/apps/vision_run_test.cpp VisionRun.OnADeviceTheMainModelDoesNotFitTheSmallerOneRuns",
     "phone-npu, whose NPU lacks depthwise convolutions: the main model needs 10 partitions "
     "(bound 4), the smaller model runs on the CPU"},
    // hybrid-field
    {F::connectivity_loss, S::hybrid_field,
     "tests/apps/field_sync_test.cpp FieldNetwork.APartitionQueuesWorkAndTheHealedLinkDeliversItOnce",
     "the veth link between the device's and the cloud's network namespaces taken down"},
    {F::connectivity_loss, S::hybrid_field,
     "tests/apps/field_sync_test.cpp FieldNetwork.ADropRuleTimesOutAndFlappingConvergesWithoutDuplicates",
     "an nftables drop rule, then the link flapped"},
    {F::connectivity_loss, S::hybrid_field,
     "tests/apps/field_route_test.cpp "
     "FieldRoutes.AHalfOpenLinkFailsClosedForRestrictedDataAndQueuedWorkIsAnsweredOnceItHeals",
     "a TCP proxy between device and cloud goes half-open: the probe gets no answer"},
    {F::connectivity_loss, S::hybrid_field,
     "tests/apps/field_route_test.cpp FieldSyncFaults.DelayLossResetsAndAHalfOpenLinkLoseNothingAndApplyNothingTwice",
     "delay, loss, resets after the server acted, and a half-open link, through a TCP proxy"},
    {F::remote_unavailable, S::hybrid_field,
     "tests/apps/field_route_test.cpp FieldRoutes.ACloudTooSlowFallsBackLocallyOnlyWherePermitted",
     "keel serve slowed past the device's deadline (--slow-step-ms): the answer never comes"},
    {F::remote_unavailable, S::hybrid_field,
     "tests/apps/field_sync_test.cpp FieldNetwork.AServerRestartedMidPushAppliesEachMutationOnce",
     "keel sync serve killed mid-push and started again"},
    {F::sync_conflict, S::hybrid_field,
     "tests/apps/field_sync_test.cpp FieldNetwork.AnAskConflictIsHeldUntilTheTechnicianDecides",
     "two devices change the same field offline; the ask rule holds it for the technician"},
    {F::worker_kill, S::hybrid_field,
     "tests/apps/field_sync_test.cpp FieldNetwork.ADeviceKilledWhileTheAnswerTricklesInResendsNothing",
     "the device's keel field sync killed (SIGKILL) while the answer trickles in under tc tbf"},
};

}  // namespace

std::span<const FaultInjection> fault_injections() {
  return kInjections;
}

std::vector<const FaultInjection*> injections_for(Fault fault, ScenarioId scenario) {
  std::vector<const FaultInjection*> out;
  for (const auto& row : kInjections) {
    if (row.fault == fault && row.scenario == scenario) out.push_back(&row);
  }
  return out;
}

}  // namespace keel::contract
