// The seven reference scenarios of DESIGN.md, each turned into its own topology, execution
// path, scenario controls, metrics and refusals. Common controls (egress, telemetry, tools,
// models, ...) are already in the builder; see plan.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "contract/plan_builder.h"

namespace keel::contract {

namespace {

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Data sources as components, linked to `consumer`.
void add_sources(PlanBuilder& b, const std::string& runs_on, const std::string& zone,
                 const std::string& consumer, const std::string& link_kind) {
  for (const auto& src : b.spec().data.sources) {
    std::string id = "source:" + src.id;
    b.component(id, std::string(enum_name(src.kind)), runs_on, zone,
                fmt::format("{} ({})", src.path.empty() ? src.id : src.path, enum_name(src.access)));
    b.link(id, consumer, link_kind, "process");
  }
}

std::string model_or(const ModelSpec* m, const char* fallback) {
  return m ? PlanBuilder::model_component(*m) : std::string(fallback);
}

void common_latency_metrics(PlanBuilder& b, const std::string& source) {
  b.metric("keel_time_to_first_token_seconds", "seconds", "histogram", source);
  b.metric("keel_time_per_output_token_seconds", "seconds", "histogram", source);
}

}  // namespace

void plan_local_research(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string host = "user-desktop", zone = "device";
  b.control("read-only-index", "read-only",
            "the index is opened with SQLITE_OPEN_READONLY while answering; no tool writes",
            "data.sources");
  b.control("citation-validity", "integrity",
            "a citation survives only if its chunk was retrieved for this question and the "
            "stored SHA-256 matches the text at its byte range; dropped ones are counted",
            "scenario");
  b.control("decline-unsupported", "answer-policy",
            "when retrieval finds no supporting passage the assistant declines instead of "
            "answering",
            "scenario");

  b.component("egress-guard", "os-guard", host, zone, "seccomp filter on socket()");
  b.component("keel-cli", "app", host, zone, "keel ask / keel run");
  b.component("ingest", "ingestion", host, zone,
              "text, Markdown, HTML (libxml2), PDF (poppler); chunks keep byte offsets");
  b.component("index", "index", host, zone, "SQLite + FTS5 (BM25) + hnswlib vectors");
  b.component("retriever", "retrieval", host, zone, "hybrid BM25 + vector, reciprocal rank fusion");
  b.add_models(host, zone);
  b.component("citations", "verifier", host, zone, "citation validity against retrieved chunks");
  b.component("telemetry", "metrics-sink", host, zone, "local Prometheus text and JSONL traces");
  const ModelSpec* gen = b.model_with_role(ModelRole::generate);
  const ModelSpec* emb = b.model_with_role(ModelRole::embed);
  std::string gen_id = model_or(gen, "generator"), emb_id = model_or(emb, "embedder");
  if (!gen) b.component(gen_id, "model", host, zone, "no generate model declared");
  if (!emb) b.component(emb_id, "model", host, zone, "no embed model declared");

  add_sources(b, host, zone, "ingest", "file-read");
  b.link("ingest", emb_id, "in-process", "process");
  b.link("ingest", "index", "sqlite", "process");
  b.link("keel-cli", "retriever", "in-process", "process");
  b.link("retriever", "index", "sqlite-read-only", "process");
  b.link("retriever", emb_id, "in-process", "process");
  b.link("retriever", gen_id, "in-process", "process");
  b.link(gen_id, "citations", "in-process", "process");
  b.link("citations", "keel-cli", "in-process", "process");
  b.link("keel-cli", "telemetry", "file", "process");

  b.step("guard", "egress-guard",
         "install the egress guard before any model or document is opened", {b.egress_control()});
  std::vector<std::string> fit;
  for (const auto& m : s.deployment.models) fit = concat(fit, b.model_controls(m));
  b.step("fit-models", gen_id, "check that each model fits memory; fall back or refuse", fit);
  b.step("index", "ingest",
         "index new/changed/deleted documents incrementally, one transaction per file",
         b.read_only_source_controls());
  b.step("retrieve", "retriever", "hybrid retrieval of the top-k passages for the question",
         {"read-only-index"});
  b.step("generate", gen_id, "answer from numbered sources, streamed token by token",
         {b.remote_fallback_control(), "decline-unsupported", b.retention_control()});
  b.step("cite", "citations", "validate citations; drop and count invalid ones",
         {"citation-validity"});
  b.step("report", "keel-cli", "print answer, citations and metrics", {b.telemetry_control()});

  common_latency_metrics(b, gen_id);
  b.metric("keel_model_load_seconds", "seconds", "gauge", gen_id);
  b.metric("keel_rss_peak_bytes", "bytes", "gauge", "keel-cli");
  b.metric("keel_citation_validity_ratio", "ratio", "gauge", "citations");
  b.metric("keel_citations_dropped_total", "citations", "counter", "citations");
  b.metric("keel_index_documents", "documents", "gauge", "index");
  b.metric("keel_index_stale_documents", "documents", "gauge", "index");
  b.metric("keel_outbound_bytes_total", "bytes", "counter", "egress-guard");

  b.refuse("network access: no socket to another host can be created");
  b.refuse("writing to the user's documents");
  b.refuse("sending prompts, documents or telemetry off the device");
  b.refuse("answers that no retrieved source supports");
}

void plan_enterprise_rag(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string host = "k8s-pod", zone = "tenant-cluster";
  b.control("tenant-isolation", "tenant-isolation",
            "the tenant comes from the verified identity token, never from the request body",
            "authority.principals");
  b.control("row-field-policy", "context-policy",
            "rows and fields the principal may not see are removed before ranking and before "
            "the model sees any context",
            "data.sources");
  b.control("typed-metrics-only", "semantic",
            "the model asks for typed metrics from a versioned catalog, compiled to "
            "parameterised SQL; free-form SQL is refused",
            "data.sources");
  b.control("tenant-rls", "tenant-isolation",
            "PostgreSQL row-level security keyed by tenant on every query", "components");
  b.control("evidence-required", "answer-policy",
            "every answer carries its evidence (passages with provenance, metric name and "
            "version) and typed limitations",
            "scenario");

  b.component("gateway", "gateway", host, zone, "identity and tenant resolution");
  b.component("policy", "policy-engine", host, zone, "row and field policy on context");
  b.component("retriever", "retrieval", host, zone, "policy-filtered hybrid retrieval");
  b.component("semantic-layer", "semantic", host, zone, "versioned metric catalog");
  b.add_declared_components(host, zone);
  b.add_models(host, zone);
  b.component("evidence", "answer-assembly", host, zone, "answer + evidence + metric version");
  b.component("audit", "audit-log", host, zone, "policy decisions and evidence per answer");
  const ModelSpec* gen = b.model_with_role(ModelRole::generate);
  std::string gen_id = model_or(gen, "private-model");
  if (!gen) b.component(gen_id, "model", host, zone, "no generate model declared");
  std::string warehouse = "warehouse";
  for (const auto& c : s.components) {
    if (c.kind == ComponentKind::postgresql || c.kind == ComponentKind::sqlite) {
      warehouse = c.id;
      break;
    }
  }
  if (!b.has_component(warehouse)) b.component(warehouse, "postgresql", host, zone, "metrics store");

  add_sources(b, host, zone, "retriever", "sql");
  b.link("gateway", "policy", "in-process", "process");
  b.link("policy", "retriever", "in-process", "process");
  b.link("policy", "semantic-layer", "in-process", "process");
  b.link("semantic-layer", warehouse, "sql-parameterised", "cluster-network");
  b.link("retriever", gen_id, "in-process", "process");
  b.link("semantic-layer", "evidence", "in-process", "process");
  b.link(gen_id, "evidence", "in-process", "process");
  b.link("evidence", "audit", "append", "process");

  b.step("authenticate", "gateway", "verify identity, resolve tenant and roles",
         {"tenant-isolation"});
  b.step("authorize", "policy", "evaluate row/field policy for this principal",
         {"row-field-policy"});
  b.step("retrieve", "retriever", "retrieve only permitted passages",
         concat({"row-field-policy"}, b.read_only_source_controls()));
  b.step("metric", "semantic-layer", "compile typed metric requests to parameterised SQL",
         {"typed-metrics-only"});
  b.step("execute", warehouse, "run the query read-only under the tenant's row-level security",
         {"tenant-rls"});
  std::vector<std::string> gen_controls = {b.egress_control(), b.retention_control()};
  if (gen) gen_controls = concat(gen_controls, b.model_controls(*gen));
  b.step("generate", gen_id, "answer on the private model from permitted context", gen_controls);
  b.step("assemble", "evidence", "attach evidence, metric version and typed limitations",
         {"evidence-required"});
  b.step("audit", "audit", "record decisions and evidence", {b.telemetry_control()});

  b.metric("keel_answers_with_provenance_ratio", "ratio", "gauge", "evidence");
  b.metric("keel_policy_denials_total", "decisions", "counter", "policy");
  b.metric("keel_semantic_metric_requests_total", "requests", "counter", "semantic-layer");
  b.metric("keel_answer_eval_score", "score", "gauge", "evidence");
  b.metric("keel_e2e_request_seconds", "seconds", "histogram", "gateway");
  common_latency_metrics(b, gen_id);
  b.metric("keel_model_tokens_total", "tokens", "counter", gen_id);
  b.metric("keel_cost_usd_total", "usd", "counter", gen_id);

  b.refuse("free-form SQL from a model");
  b.refuse("choosing the tenant from request content");
  b.refuse("rows or fields the principal may not see, anywhere near the model");
  b.refuse("metric answers without the metric's version");
}

void plan_browser_classifier(PlanBuilder& b) {
  const std::string zone = "browser-origin";
  b.control("model-signature", "integrity",
            "Ed25519 signature of the model manifest verified in the worker before compiling",
            "deployment.models");
  b.control("worker-isolation", "responsiveness",
            "inference runs in a Web Worker; the main thread only posts messages", "scenario");
  b.control("backend-local-choice", "capability",
            "WebNN, then WebGPU, then Wasm, probed locally; no server is told which",
            "deployment.target");
  b.control("non-ai-fallback", "fallback",
            "the plain form works without the model, without the worker, without JavaScript",
            "scenario");

  b.component("page", "ui", "browser-main-thread", zone, "form + suggestions");
  b.component("worker", "web-worker", "browser-worker", zone, "model runtime");
  b.component("backend-selector", "capability-probe", "browser-worker", zone, "WebNN/WebGPU/Wasm");
  b.component("model-cache", "browser-storage", "browser", zone,
              "Cache Storage keyed by content hash");
  b.add_models("browser-worker", zone);
  b.component("form-fallback", "ui", "browser-main-thread", zone, "non-AI form");
  b.component("static-host", "http-service", "origin-server", "origin-server",
              "serves the app, the model and its signature");
  const ModelSpec* clf = b.model_with_role(ModelRole::classify);
  std::string clf_id = model_or(clf, "classifier");
  if (!clf) b.component(clf_id, "model", "browser-worker", zone, "no classify model declared");

  b.link("page", "worker", "postMessage", "browser");
  b.link("worker", "static-host", "https-same-origin", "internet");
  b.link("worker", "model-cache", "cache-storage", "browser");
  b.link("worker", "backend-selector", "in-worker", "browser");
  b.link("worker", clf_id, "in-worker", "browser");
  b.link("page", "form-fallback", "dom", "browser");

  std::vector<std::string> fetch = {"model-signature", b.egress_control()};
  if (clf) fetch = concat(fetch, b.model_controls(*clf));
  b.step("render-form", "page", "render the form; usable before and without the model",
         {"non-ai-fallback"});
  b.step("fetch-model", "worker", "load the model from cache by hash, else download it", fetch);
  b.step("verify", "worker", "verify hash and signature; refuse a mismatch", {"model-signature"});
  b.step("select-backend", "backend-selector", "probe WebNN, WebGPU, Wasm locally",
         {"backend-local-choice"});
  b.step("classify", clf_id, "classify the document text off the main thread",
         {"worker-isolation", b.retention_control()});
  b.step("suggest", "page", "show the suggestion; the user can always override it",
         {"non-ai-fallback"});

  b.metric("keel_model_download_bytes", "bytes", "gauge", "worker");
  b.metric("keel_model_cache_hits_total", "loads", "counter", "model-cache");
  b.metric("keel_model_init_seconds", "seconds", "histogram", "worker");
  b.metric("keel_inference_seconds", "seconds", "histogram", clf_id);
  b.metric("keel_worker_memory_bytes", "bytes", "gauge", "worker");
  b.metric("keel_fallback_total", "events", "counter", "page");
  b.metric("keel_main_thread_long_tasks_total", "tasks", "counter", "page");

  b.refuse("uploading the document to classify it");
  b.refuse("running a model whose hash or signature does not match");
  b.refuse("making the form wait for the model");
}

void plan_mobile_vision(PlanBuilder& b) {
  const std::string host = "phone", zone = "device";
  b.control("delegate-bounded-fallback", "capability",
            "ops the accelerator delegate supports run there; the rest run on CPU within a "
            "bounded number of partitions, decided once at load",
            "deployment.models");
  b.control("thermal-budget", "thermal",
            "a thermal governor lowers the frame rate, then the model size, before the device "
            "throttles",
            "slo.latency_ms");
  b.control("signed-staged-update", "integrity",
            "updates are downloaded to a staging slot, verified (Ed25519), shadow-run, then "
            "promoted; the last good model is kept",
            "deployment.models");

  b.component("camera", "camera", host, zone, "frames in memory only");
  b.component("app", "app", host, zone, "camera screen");
  b.component("program", "edge-runtime", host, zone, "prepared model program + memory plan");
  b.component("delegate", "accelerator-delegate", host, zone, "NPU/GPU delegate");
  b.component("cpu", "cpu-kernels", host, zone, "fallback for unsupported ops");
  b.component("thermal-governor", "governor", host, zone, "thermal budget");
  b.component("update-agent", "updater", host, zone, "staged, signed updates; keeps last good");
  b.component("update-server", "http-service", "vendor-cloud", "vendor-cloud", "update channel");
  b.add_models(host, zone);

  b.link("camera", "app", "in-process", "process");
  b.link("app", "program", "in-process", "process");
  b.link("program", "delegate", "driver", "device");
  b.link("program", "cpu", "in-process", "process");
  b.link("thermal-governor", "program", "in-process", "process");
  b.link("update-agent", "update-server", "https", "internet");
  b.link("update-agent", "program", "file-swap", "device");

  std::vector<std::string> load = {"delegate-bounded-fallback"};
  for (const auto& m : b.spec().deployment.models) load = concat(load, b.model_controls(m));
  b.step("capture", "camera", "capture a frame into memory", {b.retention_control()});
  b.step("prepare", "program", "partition the graph between delegate and CPU", load);
  b.step("infer", "program", "run the frame within the thermal budget", {"thermal-budget"});
  b.step("postprocess", "app", "show the prediction; the frame is dropped", {b.retention_control()});
  b.step("update", "update-agent", "stage, verify, shadow-run and promote a new model",
         {"signed-staged-update", b.egress_control()});

  b.metric("keel_delegate_coverage_ratio", "ratio", "gauge", "program");
  b.metric("keel_inference_seconds", "seconds", "histogram", "program");
  b.metric("keel_energy_proxy_joules_total", "joules", "counter", "thermal-governor");
  b.metric("keel_thermal_state", "level", "gauge", "thermal-governor");
  b.metric("keel_rss_peak_bytes", "bytes", "gauge", "app");
  b.metric("keel_model_updates_total", "updates", "counter", "update-agent");
  b.metric("keel_quality_agreement_ratio", "ratio", "gauge", "program");

  b.refuse("storing raw camera frames");
  b.refuse("installing an update whose signature does not verify");
  b.refuse("deleting the last good model before its replacement proves itself");
}

void plan_llm_service(PlanBuilder& b) {
  const std::string host = "k8s-pod", zone = "service-cluster";
  b.control("gateway-auth", "authentication",
            "API keys stored as SHA-256 hashes; 401 without a valid key, 403 for a model the "
            "tenant may not use",
            "authority.principals");
  b.control("tenant-quota", "quota",
            "per-tenant requests/min, tokens/min and concurrency; 429 with Retry-After past a "
            "quota",
            "authority.principals");
  b.control("fair-scheduling", "scheduling",
            "tenants are served round-robin so one tenant's flood does not starve another",
            "authority.principals");
  b.control("readiness", "lifecycle",
            "/readyz is 503 until the model is loaded and warmed, and again while draining",
            "deployment.models");
  b.control("cancel-on-disconnect", "lifecycle",
            "a client disconnect cancels its generation and frees its KV blocks at once",
            "scenario");
  b.control("goodput-autoscaling", "autoscaling",
            "replicas scale on goodput ratio and queue depth from /metrics", "slo");

  b.component("gateway", "gateway", host, zone, "API keys, tenants, quotas");
  b.component("server", "http-server", host, zone, "OpenAI-compatible API, SSE, event-driven");
  b.component("admission", "admission", host, zone, "bounded waiting queue");
  b.component("scheduler", "scheduler", host, zone, "continuous batching, chunked prefill");
  b.component("kv-cache", "kv-cache", host, zone, "paged blocks, prefix reuse, LRU eviction");
  b.add_models(host, zone);
  b.component("probes", "probes", host, zone, "/livez /startupz /readyz");
  b.component("autoscaler", "autoscaler", "k8s-control-plane", zone, "KEDA on goodput and queue");
  b.component("prometheus", "metrics-sink", "k8s-monitoring", zone, "scrapes /metrics");
  b.add_declared_components(host, zone);
  const ModelSpec* gen = b.model_with_role(ModelRole::generate);
  std::string gen_id = model_or(gen, "engine");
  if (!gen) b.component(gen_id, "model", host, zone, "no generate model declared");

  b.link("gateway", "server", "in-process", "process");
  b.link("server", "admission", "in-process", "process");
  b.link("admission", "scheduler", "in-process", "process");
  b.link("scheduler", "kv-cache", "in-process", "process");
  b.link("scheduler", gen_id, "in-process", "process");
  b.link("prometheus", "server", "http", "cluster-network");
  b.link("autoscaler", "prometheus", "http", "cluster-network");

  b.step("authenticate", "gateway", "check the API key, resolve the tenant", {"gateway-auth"});
  b.step("quota", "gateway", "apply the tenant's quotas", {"tenant-quota"});
  b.step("admit", "admission", "admit within bounds or answer 429 + Retry-After", {"admission"});
  b.step("schedule", "scheduler", "pick work fairly across tenants within the token budget",
         {"fair-scheduling"});
  std::vector<std::string> prefill = {"readiness"};
  if (gen) prefill = concat(prefill, b.model_controls(*gen));
  b.step("prefill", gen_id, "prefill the prompt, reusing cached prefix blocks", prefill);
  b.step("decode", gen_id, "decode in the continuous batch, streaming tokens",
         {"cancel-on-disconnect"});
  b.step("measure", "server", "record TTFT, TPOT and goodput",
         {"goodput-autoscaling", b.telemetry_control()});

  b.metric("keel_time_to_first_token_seconds", "seconds", "histogram", "server");
  b.metric("keel_time_per_output_token_seconds", "seconds", "histogram", "server");
  b.metric("keel_inter_token_latency_seconds", "seconds", "histogram", "server");
  b.metric("keel_request_queue_seconds", "seconds", "histogram", "admission");
  b.metric("keel_e2e_request_seconds", "seconds", "histogram", "server");
  b.metric("keel_requests_running", "requests", "gauge", "scheduler");
  b.metric("keel_requests_waiting", "requests", "gauge", "admission");
  b.metric("keel_kv_blocks_used_ratio", "ratio", "gauge", "kv-cache");
  b.metric("keel_goodput_ratio", "ratio", "gauge", "server");
  b.metric("keel_prompt_tokens_total", "tokens", "counter", "scheduler");
  b.metric("keel_generation_tokens_total", "tokens", "counter", "scheduler");
  b.metric("keel_prefix_cache_hit_tokens_total", "tokens", "counter", "kv-cache");
  b.metric("keel_prefill_tokens_avoided_total", "tokens", "counter", "kv-cache");
  b.metric("keel_admission_rejections_total", "requests", "counter", "admission");
  b.metric("keel_requests_total", "requests", "counter", "server");
  b.metric("keel_goodput_requests_total", "requests", "counter", "server");

  b.refuse("unbounded queueing");
  b.refuse("serving before the model is loaded and warmed");
  b.refuse("generating for a client that has gone");
}

void plan_durable_agent(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string host = "workflow-worker", zone = "agent-runtime";
  b.control("journal-before-effect", "durability",
            "an intent record is durable before any side effect, an outcome record after it; "
            "replay never re-executes a completed step",
            "components");
  b.control("case-lease", "concurrency",
            "a worker holds a lease on a case; an expired lease lets another worker resume",
            "components");
  b.control("approval-binding", "approval",
            "an approval binds to the hash of the arguments shown; different arguments at "
            "execution are refused",
            "authority.tools");

  b.component("worker", "workflow-engine", host, zone, "cases as resumable workflows");
  b.component("policy", "policy-engine", host, zone, "permit/forbid, default deny");
  b.component("approvals", "approval-inbox", host, zone, "durable pending approvals");
  b.component("tools", "tool-runtime", host, zone,
              fmt::format("{} typed tools", s.authority.tools.size()));
  b.add_declared_components(host, zone);
  b.add_models(host, zone);
  std::string journal = "journal";
  for (const auto& c : s.components) {
    if (c.kind == ComponentKind::sqlite || c.kind == ComponentKind::postgresql) {
      journal = c.id;
      break;
    }
  }
  if (!b.has_component(journal)) b.component(journal, "sqlite", host, zone, "case journal");
  std::string sor = s.authority.system_of_record.value_or("system-of-record");
  if (!b.has_component(sor)) b.component(sor, "system-of-record", "business-systems", "systems-of-record");
  const ModelSpec* gen = b.model_with_role(ModelRole::generate);
  std::string gen_id = model_or(gen, "model");
  if (!gen) b.component(gen_id, "model", host, zone, "model endpoint");

  b.link("worker", journal, "sql", "process");
  b.link("worker", "policy", "in-process", "process");
  b.link("worker", "approvals", "in-process", "process");
  b.link("worker", gen_id, "in-process", "process");
  b.link("worker", "tools", "in-process", "process");
  b.link("tools", sor, "tool-call", "network");
  if (s.authority.memory.store) {
    if (!b.has_component(*s.authority.memory.store)) {
      b.component(*s.authority.memory.store, "memory-store", host, zone, "agent memory");
    }
    b.link("tools", *s.authority.memory.store, "sql", "process");
  }

  b.step("claim", "worker", "claim a runnable case under a lease", {"case-lease"});
  b.step("replay", "worker", "rebuild state from the journal", {"journal-before-effect"});
  b.step("context", "tools", "fetch case context with read tools", {});
  std::vector<std::string> model_controls = {b.egress_control()};
  if (gen) model_controls = concat(model_controls, b.model_controls(*gen));
  b.step("decide", gen_id, "ask the model for the next action (journaled)", model_controls);
  std::vector<std::string> policy, approval, act;
  for (const auto& t : s.authority.tools) {
    policy.push_back("permission:" + t.name);
    if (t.approval != Approval::none) approval.push_back("approval:" + t.name);
    if (t.effect != Effect::read) {
      act.push_back("idempotency:" + t.name);
      act.push_back("outcome-check:" + t.name);
    }
  }
  b.step("authorize", "policy", "decide permit/deny for the action; journal the rule", policy);
  approval.push_back("approval-binding");
  b.step("approve", "approvals", "suspend durably until approved when the spec requires it",
         approval);
  act.push_back("journal-before-effect");
  b.step("act", "tools", "run the tool with its idempotency key; check unknown outcomes", act);
  b.step("remember", "tools", "write memory only through explicit tools", {b.memory_control()});
  b.step("complete", "worker", "record the outcome", {b.telemetry_control()});

  b.metric("keel_agent_cases_total", "cases", "counter", "worker");
  b.metric("keel_agent_case_seconds", "seconds", "histogram", "worker");
  b.metric("keel_agent_steps_total", "steps", "counter", "worker");
  b.metric("keel_agent_tool_retries_total", "retries", "counter", "tools");
  b.metric("keel_agent_outcome_checks_total", "checks", "counter", "tools");
  b.metric("keel_agent_duplicates_prevented_total", "actions", "counter", "tools");
  b.metric("keel_agent_approvals_total", "approvals", "counter", "approvals");
  b.metric("keel_agent_policy_denials_total", "decisions", "counter", "policy");
  b.metric("keel_agent_model_tokens_total", "tokens", "counter", gen_id);
  b.metric("keel_agent_cost_usd_total", "usd", "counter", gen_id);
  b.metric("keel_agent_replays_total", "replays", "counter", "worker");

  b.refuse("retrying a write whose outcome is unknown without asking the system of record");
  b.refuse("executing an action whose approval was given for other arguments");
  b.refuse("remembering anything implicitly");
  b.refuse("the system of record itself (it stays authoritative)");
}

void plan_hybrid_field(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string host = "field-device", zone = "device";
  b.control("route-policy", "route",
            "route chosen from data class, connectivity, capability, deadline and consent; the "
            "decision and its reason are recorded",
            "deployment");
  b.control("consent", "route", "remote routes for personal data need the user's consent",
            "deployment.remote_fallback");
  b.control("versioned-sync", "idempotency",
            "each change carries an id and a base version; the server applies it once and "
            "reports conflicts instead of overwriting",
            "components");
  b.control("durable-offline-queue", "durability",
            "commands made offline are written to device storage before they are acknowledged",
            "components");

  b.component("app", "app", host, zone, "field assistant");
  b.component("router", "route-policy", host, zone, "data class, connectivity, deadline, consent");
  b.component("connectivity", "monitor", host, zone, "link state and latency");
  b.component("command-queue", "device-storage", host, zone, "offline command queue");
  b.component("sync", "sync-agent", host, zone, "versioned idempotent sync");
  b.component("cloud-api", "http-service", "private-cloud", "private-cloud", "sync endpoint");
  b.add_models(host, zone);
  b.add_declared_components(host, zone);

  const ModelSpec* local = nullptr;
  const ModelSpec* remote = nullptr;
  for (const auto& m : s.deployment.models) {
    if (m.runs == ModelPlacement::local && !local) local = &m;
    if (m.runs == ModelPlacement::remote && !remote) remote = &m;
  }
  std::string local_id = model_or(local, "local-model");
  if (!local) b.component(local_id, "model", host, zone, "no local model declared");

  b.link("app", "router", "in-process", "process");
  b.link("router", "connectivity", "in-process", "process");
  b.link("router", local_id, "in-process", "process");
  if (remote) b.link("router", PlanBuilder::model_component(*remote), "https", "internet");
  b.link("app", "command-queue", "sqlite", "process");
  b.link("sync", "command-queue", "sqlite", "process");
  b.link("sync", "cloud-api", "https", "internet");

  b.step("classify", "router", "label the request with its data class and deadline",
         {"route-policy"});
  b.step("route", "router", "choose local, remote or refuse; record the reason",
         {"route-policy", "consent", "route-" + std::string(enum_name(s.failure.on_route_unavailable)),
          b.remote_fallback_control()});
  std::vector<std::string> local_controls;
  if (local) local_controls = b.model_controls(*local);
  b.step("infer-local", local_id, "answer on the device model", local_controls);
  if (remote) {
    b.step("infer-remote", PlanBuilder::model_component(*remote),
           "answer on the private-cloud model when policy and connectivity allow",
           {b.egress_control(), "consent"});
  }
  b.step("queue", "command-queue", "store commands made offline durably",
         {"durable-offline-queue"});
  b.step("sync", "sync", "send queued changes with ids and base versions; resolve conflicts",
         {"versioned-sync", b.egress_control()});

  b.metric("keel_route_decisions_total", "decisions", "counter", "router");
  b.metric("keel_route_fallbacks_total", "decisions", "counter", "router");
  b.metric("keel_offline_requests_total", "requests", "counter", "router");
  b.metric("keel_offline_success_ratio", "ratio", "gauge", "router");
  b.metric("keel_sync_conflicts_total", "changes", "counter", "sync");
  b.metric("keel_sync_duplicates_prevented_total", "changes", "counter", "sync");
  b.metric("keel_request_seconds", "seconds", "histogram", "router");
  b.metric("keel_model_version_parity", "ratio", "gauge", "sync");

  b.refuse("sending data to a route its class forbids");
  b.refuse("trying another route when the permitted one is unavailable");
  b.refuse("overwriting a newer version during sync");
}

}  // namespace keel::contract
