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

// `controls`, then the model's own controls when there is a model.
std::vector<std::string> with_model_controls(const PlanBuilder& b,
                                             std::vector<std::string> controls,
                                             const ModelSpec* m) {
  if (m) controls = concat(controls, b.model_controls(*m));
  return controls;
}

bool any_write_tool(const Spec& s) {
  bool writes = false;
  for (const auto& t : s.authority.tools) writes |= t.effect != Effect::read;
  return writes;
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

  const bool guarded = s.deployment.egress.none;
  if (guarded) b.component("egress-guard", "os-guard", host, zone, "seccomp filter on socket()");
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

  if (guarded) {
    b.step("guard", "egress-guard",
           "install the egress guard before any model or document is opened", {b.egress_control()});
  }
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

  if (guarded) b.refuse("network access: no socket to another host can be created");
  bool sources_read_only = !s.data.sources.empty();
  for (const auto& src : s.data.sources) sources_read_only &= src.access == Access::read_only;
  if (sources_read_only) b.refuse("writing to the user's documents");
  if (guarded && s.deployment.telemetry.sink != TelemetrySink::otlp &&
      s.deployment.remote_fallback == RemoteFallback::disabled) {
    b.refuse("sending prompts, documents or telemetry off the device");
  }
  b.refuse("answers that no retrieved source supports");
}

namespace {

// What the enterprise-rag plan reads from the spec.
struct EnterpriseRagFacts {
  std::string host = "k8s-pod", zone = "tenant-cluster";
  const Component* idp = nullptr;           //!< the first identity provider declared
  const Component* warehouse_db = nullptr;  //!< the first PostgreSQL or SQLite component
  bool semantic = false;                    //!< a semantic-layer source is declared
  const ModelSpec* gen = nullptr;
  std::string gen_id;
  std::string warehouse;  //!< the database metric queries run on
};

EnterpriseRagFacts enterprise_rag_facts(const PlanBuilder& b) {
  const Spec& s = b.spec();
  EnterpriseRagFacts f;
  for (const auto& c : s.components) {
    if (c.kind == ComponentKind::identity_provider && !f.idp) f.idp = &c;
    if ((c.kind == ComponentKind::postgresql || c.kind == ComponentKind::sqlite) && !f.warehouse_db)
      f.warehouse_db = &c;
  }
  for (const auto& src : s.data.sources) f.semantic |= src.kind == SourceKind::semantic_layer;
  f.gen = b.model_with_role(ModelRole::generate);
  f.gen_id = model_or(f.gen, "private-model");
  f.warehouse = f.warehouse_db ? f.warehouse_db->id : "warehouse";
  return f;
}

void add_enterprise_rag_controls(PlanBuilder& b, const EnterpriseRagFacts& f) {
  const Spec& s = b.spec();
  if (f.idp) {
    const IdentitySettings& id = f.idp->identity ? *f.idp->identity : IdentitySettings{};
    b.control("tenant-isolation", "tenant-isolation",
              b.runtime_built()
                  ? fmt::format("the tenant comes from the '{}' claim of a token verified with {}'s keys "
                                "(issuer {}, audience {}; principal '{}', roles '{}'), never from the "
                                "request body",
                                id.tenant_claim, f.idp->id, id.issuer.empty() ? "not checked" : id.issuer,
                                id.audience.empty() ? "not checked" : id.audience, id.principal_claim,
                                id.roles_claim)
                  : fmt::format("the tenant comes from the identity token verified with {}, never from "
                                "the request body",
                                f.idp->id),
              "components");
  }
  if (!s.data.sources.empty()) {
    b.control("row-field-policy", "context-policy",
              "rows and fields the principal may not see are removed before ranking and before "
              "the model sees any context",
              "data.sources");
  }
  if (f.semantic) {
    b.control("typed-metrics-only", "semantic",
              b.runtime_built()
                  ? "numbers come only from typed metric requests (given by the client, or read "
                    "from the question's words) validated against the versioned catalog and "
                    "compiled to parameterised SQL; nothing else reaches the warehouse"
                  : "the model asks for typed metrics from a versioned catalog, compiled to "
                    "parameterised SQL; free-form SQL is refused",
              "data.sources");
  }
  if (f.warehouse_db && f.warehouse_db->kind == ComponentKind::postgresql) {
    b.control("tenant-rls", "tenant-isolation",
              b.runtime_built()
                  ? fmt::format("PostgreSQL row-level security keyed by tenant on every query to {} "
                                "(keel.tenant set per read-only transaction); keel rag refuses to "
                                "start when its role is a superuser or has BYPASSRLS, or a catalog "
                                "table's row security is off (or not forced for its owner)",
                                f.warehouse_db->id)
                  : fmt::format("PostgreSQL row-level security keyed by tenant on every query to {}",
                                f.warehouse_db->id),
              "components");
  }
  if (b.runtime_built() && f.gen) {
    std::vector<std::string> approved;
    for (DataClass c : f.gen->classes) approved.push_back(std::string(enum_name(c)));
    b.control("route-by-data-class", "route-policy",
              fmt::format("an answer's evidence reaches {} only when it is approved for the evidence's most "
                          "sensitive class ({}); otherwise the template's text is kept (fail closed) and the "
                          "refusal is recorded",
                          f.gen_id, approved.empty() ? "every class: no classes listed" : fmt::format("{}", fmt::join(approved, ", "))),
              "deployment.models");
  }
  b.control("evidence-required", "answer-policy",
            "every answer carries its evidence (passages with provenance, metric name and "
            "version) and typed limitations",
            "scenario");
}

void add_enterprise_rag_topology(PlanBuilder& b, const EnterpriseRagFacts& f) {
  const std::string& host = f.host;
  const std::string& zone = f.zone;
  b.component("gateway", "gateway", host, zone, "identity and tenant resolution");
  b.component("policy", "policy-engine", host, zone, "row and field policy on context");
  b.component("retriever", "retrieval", host, zone, "policy-filtered hybrid retrieval");
  b.component("semantic-layer", "semantic", host, zone,
              f.semantic ? "versioned metric catalog" : "no semantic-layer source declared");
  b.add_declared_components(host, zone);
  b.add_models(host, zone);
  b.component("evidence", "answer-assembly", host, zone, "answer + evidence + metric version");
  b.component("audit", "audit-log", host, zone, "policy decisions and evidence per answer");
  if (!f.gen) b.component(f.gen_id, "model", host, zone, "no generate model declared");
  if (!b.has_component(f.warehouse))
    b.component(f.warehouse, "database", host, zone, "no database component declared");

  add_sources(b, host, zone, "retriever", "sql");
  b.link("gateway", "policy", "in-process", "process");
  b.link("policy", "retriever", "in-process", "process");
  b.link("policy", "semantic-layer", "in-process", "process");
  b.link("semantic-layer", f.warehouse, "sql-parameterised", "cluster-network");
  b.link("retriever", f.gen_id, "in-process", "process");
  b.link("semantic-layer", "evidence", "in-process", "process");
  b.link(f.gen_id, "evidence", "in-process", "process");
  b.link("evidence", "audit", "append", "process");
}

void add_enterprise_rag_path(PlanBuilder& b, const EnterpriseRagFacts& f) {
  b.step("authenticate", "gateway", "verify identity, resolve tenant and roles",
         {"tenant-isolation"});
  b.step("authorize", "policy", "evaluate row/field policy for this principal",
         {"row-field-policy"});
  b.step("retrieve", "retriever", "retrieve only permitted passages",
         concat({"row-field-policy"}, b.read_only_source_controls()));
  b.step("metric", "semantic-layer", "compile typed metric requests to parameterised SQL",
         {"typed-metrics-only"});
  b.step("execute", f.warehouse,
         b.has_control("tenant-rls")
             ? "run the query read-only under the tenant's row-level security"
             : "run the query read-only",
         {"tenant-rls"});
  if (b.runtime_built()) {
    b.step("compose", "evidence",
           fmt::format("compose the text from the evidence by template (metric figures; quoted "
                       "passages), then let {} write it when approved for the answer's data class "
                       "(keel rag --composer; auto uses the model's evaluation record), kept only "
                       "when every figure it states is in the evidence",
                       f.gen_id),
           with_model_controls(b, {b.retention_control(), "route-by-data-class"}, f.gen));
  } else {
    b.step("generate", f.gen_id, "answer on the private model from permitted context",
           with_model_controls(b, {b.egress_control(), b.retention_control()}, f.gen));
  }
  b.step("assemble", "evidence", "attach evidence, metric version and typed limitations",
         {"evidence-required"});
  b.step("audit", "audit", "record decisions and evidence", {b.telemetry_control()});
}

void add_enterprise_rag_metrics(PlanBuilder& b, const EnterpriseRagFacts& f) {
  if (b.runtime_built()) {
    // What keel rag serve exports on /metrics (rag/answer_metrics.h).
    b.metric("keel_answers_total", "answers", "counter", "evidence");
    b.metric("keel_answer_compositions_total", "answers", "counter", "evidence");
    b.metric("keel_model_tokens_total", "tokens", "counter", f.gen_id);
    b.metric("keel_answers_with_provenance_ratio", "ratio", "gauge", "evidence");
    b.metric("keel_policy_denials_total", "decisions", "counter", "policy");
    b.metric("keel_semantic_metric_requests_total", "requests", "counter", "semantic-layer");
    b.metric("keel_e2e_request_seconds", "seconds", "histogram", "gateway");
    b.metric("keel_admission_rejections_total", "requests", "counter", "gateway");
    return;
  }
  b.metric("keel_answers_with_provenance_ratio", "ratio", "gauge", "evidence");
  b.metric("keel_policy_denials_total", "decisions", "counter", "policy");
  b.metric("keel_semantic_metric_requests_total", "requests", "counter", "semantic-layer");
  b.metric("keel_answer_eval_score", "score", "gauge", "evidence");
  b.metric("keel_e2e_request_seconds", "seconds", "histogram", "gateway");
  common_latency_metrics(b, f.gen_id);
  b.metric("keel_model_tokens_total", "tokens", "counter", f.gen_id);
  b.metric("keel_cost_usd_total", "usd", "counter", f.gen_id);
}

}  // namespace

void plan_enterprise_rag(PlanBuilder& b) {
  const EnterpriseRagFacts f = enterprise_rag_facts(b);
  add_enterprise_rag_controls(b, f);
  add_enterprise_rag_topology(b, f);
  add_enterprise_rag_path(b, f);
  add_enterprise_rag_metrics(b, f);

  if (f.semantic) b.refuse("free-form SQL from a model");
  if (f.idp) b.refuse("choosing the tenant from request content");
  if (!b.spec().data.sources.empty())
    b.refuse("rows or fields the principal may not see, anywhere near the model");
  if (f.semantic) b.refuse("metric answers without the metric's version");
}

void plan_browser_classifier(PlanBuilder& b) {
  const Spec& s = b.spec();
  const std::string zone = "browser-origin";
  const ModelSpec* clf = b.model_with_role(ModelRole::classify);
  const bool pinned = clf && !clf->sha256.empty();
  const bool signed_model = s.browser.signer.has_value();
  const bool remote = s.deployment.remote_fallback != RemoteFallback::disabled;
  b.control("worker-isolation", "responsiveness",
            "inference runs in a Web Worker; the main thread only posts messages", "scenario");
  b.control("backend-local-choice", "capability",
            fmt::format("{}, probed in that order in the Worker (a session is created on each "
                        "until one works; a software WebGPU adapter is passed over for Wasm); the "
                        "reason for every skipped provider is recorded",
                        fmt::join(s.browser.providers, ", ")),
            "browser.providers");
  b.control("non-ai-fallback", "fallback",
            "the plain form works without the model, without the worker, without JavaScript "
            "(an HTML form posting to the origin)",
            "scenario");
  b.control("memory-budget", "capability",
            fmt::format("the page loads no model when navigator.deviceMemory is below {} MB",
                        s.browser.min_device_memory_mb),
            "browser.min_device_memory_mb");
  if (signed_model) {
    b.control("signed-manifest", "integrity",
              "WebCrypto Ed25519 over the manifest's exact bytes, under the pinned key only; "
              "then SHA-256 and size of every asset before use and before caching",
              "browser.signer");
  }
  if (remote) {
    b.control("remote-consent", "consent",
              fmt::format("no request to {} before the user switches remote classification on "
                          "(remembered per browser); the server also refuses requests without "
                          "the consent header",
                          s.browser.remote_endpoint),
              "deployment.remote_fallback");
  }

  b.component("page", "ui", "browser-main-thread", zone, "form + suggestions");
  b.component("worker", "web-worker", "browser-worker", zone, "model runtime");
  b.component("backend-selector", "capability-probe", "browser-worker", zone,
              fmt::format("{}", fmt::join(s.browser.providers, "/")));
  b.component("model-cache", "browser-storage", "browser", zone,
              pinned ? "Cache Storage keyed by content hash" : "Cache Storage keyed by URL");
  b.add_models("browser-worker", zone);
  b.component("form-fallback", "ui", "browser-main-thread", zone, "non-AI form");
  b.component("static-host", "http-service", "origin-server", "origin-server",
              "serves the app under hashed URLs, the signed model, the form's endpoint");
  if (remote) {
    b.component("remote-classifier", "model", "origin-server", "origin-server",
                "the same ONNX file on Keel's edge runtime (opt-in fallback)");
  }
  std::string clf_id = model_or(clf, "classifier");
  if (!clf) b.component(clf_id, "model", "browser-worker", zone, "no classify model declared");

  b.link("page", "worker", "postMessage", "browser");
  b.link("worker", "static-host", "https-same-origin", "internet");
  b.link("worker", "model-cache", "cache-storage", "browser");
  b.link("worker", "backend-selector", "in-worker", "browser");
  b.link("worker", clf_id, "in-worker", "browser");
  b.link("page", "form-fallback", "dom", "browser");
  if (remote) b.link("page", "remote-classifier", "https-same-origin", "internet");

  std::vector<std::string> fetch = {b.egress_control()};
  if (clf) fetch = concat(fetch, b.model_controls(*clf));
  b.step("render-form", "page", "render the form; usable before and without the model",
         {"non-ai-fallback"});
  b.step("check-memory", "page", "skip the model on a device below the memory budget",
         {"memory-budget"});
  if (signed_model) {
    b.step("verify-manifest", "worker", "verify the manifest's signature under the pinned key",
           {"signed-manifest"});
  }
  b.step("fetch-model", "worker",
         pinned ? "load the model from cache by hash, else download it with progress"
                : "load the model from cache by URL, else download it",
         fetch);
  if (pinned) {
    b.step("verify", "worker", "verify the model's SHA-256 and size; refuse a mismatch",
           {"content-address:" + clf->id});
  }
  b.step("select-backend", "backend-selector", "create a session on the first provider that works",
         {"backend-local-choice"});
  b.step("classify", clf_id, "classify the document text off the main thread; dispose tensors",
         {"worker-isolation", b.retention_control()});
  if (remote) {
    b.step("remote-fallback", "remote-classifier",
           "only when the local model is unusable and the user consented",
           {"remote-consent"});
  }
  b.step("suggest", "page", "show the suggestion; the user can always override it",
         {"non-ai-fallback"});

  b.metric("keel_web_requests_total", "requests", "counter", "static-host");
  b.metric("keel_web_bytes_sent_total", "bytes", "counter", "static-host");
  b.metric("keel_web_browser_sessions_total", "pages", "counter", "worker");
  b.metric("keel_web_browser_fallbacks_total", "events", "counter", "page");
  b.metric("keel_web_browser_bytes_fetched_total", "bytes", "counter", "worker");
  b.metric("keel_web_browser_init_seconds", "seconds", "histogram", "worker");
  b.metric("keel_web_browser_classify_seconds", "seconds", "histogram", clf_id);
  b.metric("keel_web_browser_heap_bytes", "bytes", "gauge", "page");
  b.metric("keel_web_browser_long_tasks_total", "tasks", "counter", "page");
  b.metric("keel_web_form_submissions_total", "documents", "counter", "form-fallback");
  if (remote) {
    b.metric("keel_web_remote_classifications_total", "requests", "counter", "remote-classifier");
    b.metric("keel_web_classify_seconds", "seconds", "histogram", "remote-classifier");
  }
  if (signed_model) {
    b.refuse("a model whose manifest is not signed by the pinned key, or whose bytes do not hash "
             "to it");
  }
  b.refuse("sending a document off the device before the user's consent");
}

namespace {

// What the mobile-vision plan reads from the spec.
struct MobileVisionFacts {
  std::string host = "phone", zone = "device";
  bool keeps_frames = false;
  //! Models the update channel can reach: those whose URL the egress allow-list covers.
  std::vector<const ModelSpec*> updatable;
  bool smaller_model = false;  //!< some model names a fallback to switch to
};

MobileVisionFacts mobile_vision_facts(const Spec& s) {
  MobileVisionFacts f;
  f.keeps_frames = s.data.raw_input_retention != Retention::none;
  for (const auto& m : s.deployment.models) {
    if (!s.deployment.egress.none && !m.url.empty() && s.deployment.egress.allows(m.url))
      f.updatable.push_back(&m);
  }
  for (const auto& m : s.deployment.models) f.smaller_model |= !m.fallbacks.empty();
  return f;
}

void add_mobile_vision_controls(PlanBuilder& b, const MobileVisionFacts& f) {
  const Spec& s = b.spec();
  b.control("delegate-bounded-fallback", "capability",
            "ops the accelerator delegate supports run there; the rest run on CPU within a "
            "bounded number of partitions, decided once at load",
            "deployment.models");
  const std::optional<double> latency =
      s.slo.latency_ms ? s.slo.latency_ms->strictest() : std::nullopt;
  b.control(
      "thermal-budget", "thermal",
      fmt::format("a thermal governor lowers the frame rate{} before the device throttles{}",
                  f.smaller_model ? ", then switches to the smaller model" : "",
                  latency ? fmt::format(", keeping latency under {} ms", *latency) : std::string()),
      latency ? "slo.latency_ms" : "scenario");
  if (!f.updatable.empty()) {
    std::vector<std::string> ids;
    for (const ModelSpec* m : f.updatable) ids.push_back(m->id);
    b.control("staged-update", "integrity",
              fmt::format("program updates of {} are {}; each is written to the inactive A/B "
                          "slot, verified there, health-checked on the device's canary images, "
                          "then committed or rolled back; the last good program is kept",
                          fmt::join(ids, ", "),
                          s.edge.update_signer
                              ? "accepted only with an Ed25519 signature under "
                                "edge.update_signer, a higher version, before expiry and for "
                                "this device class"
                              : "refused (edge.update_signer names no publisher key)"),
              s.edge.update_signer ? "edge.update_signer" : "deployment.models");
  }
}

void add_mobile_vision_topology(PlanBuilder& b, const MobileVisionFacts& f) {
  const Spec& s = b.spec();
  const std::string& host = f.host;
  const std::string& zone = f.zone;
  b.component("camera", "camera", host, zone,
              f.keeps_frames
                  ? fmt::format("frames kept ({})", enum_name(s.data.raw_input_retention))
                  : std::string("frames in memory only"));
  b.component("app", "app", host, zone, "camera screen");
  b.component("program", "edge-runtime", host, zone, "prepared model program + memory plan");
  b.component("delegate", "accelerator-delegate", host, zone, "NPU/GPU delegate");
  b.component("cpu", "cpu-kernels", host, zone, "fallback for unsupported ops");
  b.component("thermal-governor", "governor", host, zone, "thermal budget");
  b.component("update-agent", "updater", host, zone,
              f.updatable.empty() ? "no update channel: the egress allow-list reaches no model URL"
                                  : "staged updates; keeps last good");
  if (!f.updatable.empty()) {
    b.component("update-server", "http-service", "vendor-cloud", "vendor-cloud",
                fmt::format("update channel ({})", fmt::join(s.deployment.egress.allow, ", ")));
  }
  b.add_models(host, zone);

  b.link("camera", "app", "in-process", "process");
  b.link("app", "program", "in-process", "process");
  b.link("program", "delegate", "driver", "device");
  b.link("program", "cpu", "in-process", "process");
  b.link("thermal-governor", "program", "in-process", "process");
  if (!f.updatable.empty()) b.link("update-agent", "update-server", "https", "internet");
  b.link("update-agent", "program", "file-swap", "device");
}

void add_mobile_vision_path(PlanBuilder& b, const MobileVisionFacts& f) {
  const Spec& s = b.spec();
  std::vector<std::string> load = {"delegate-bounded-fallback"};
  for (const auto& m : s.deployment.models) load = concat(load, b.model_controls(m));
  b.step("capture", "camera", "capture a frame into memory", {b.retention_control()});
  b.step("prepare", "program", "partition the graph between delegate and CPU", load);
  b.step("infer", "program", "run the frame within the thermal budget", {"thermal-budget"});
  b.step("postprocess", "app",
         f.keeps_frames ? fmt::format("show the prediction; the frame is kept ({})",
                                      enum_name(s.data.raw_input_retention))
                        : std::string("show the prediction; the frame is dropped"),
         {b.retention_control()});
  if (!f.updatable.empty()) {
    b.step("update", "update-agent",
           "verify a signed program update, stage it in the inactive slot, health-check it on "
           "the canary images, then commit it or roll back",
           {"staged-update", b.egress_control()});
  }
}

void add_mobile_vision_metrics(PlanBuilder& b) {
  b.metric("keel_delegate_coverage_ratio", "ratio", "gauge", "program");
  b.metric("keel_inference_seconds", "seconds", "histogram", "program");
  b.metric("keel_energy_proxy_joules_total", "joules", "counter", "thermal-governor");
  b.metric("keel_thermal_state", "level", "gauge", "thermal-governor");
  b.metric("keel_rss_peak_bytes", "bytes", "gauge", "app");
  b.metric("keel_model_updates_total", "updates", "counter", "update-agent");
  b.metric("keel_quality_agreement_ratio", "ratio", "gauge", "program");
}

}  // namespace

void plan_mobile_vision(PlanBuilder& b) {
  const MobileVisionFacts f = mobile_vision_facts(b.spec());
  add_mobile_vision_controls(b, f);
  add_mobile_vision_topology(b, f);
  add_mobile_vision_path(b, f);
  add_mobile_vision_metrics(b);

  if (!f.keeps_frames) b.refuse("storing raw camera frames");
  if (!f.updatable.empty() && b.spec().edge.update_signer)
    b.refuse("installing a program update that is unsigned, older than the installed one or expired");
  if (!f.updatable.empty())
    b.refuse("deleting the last good model before its replacement proves itself");
}

namespace {

// What the llm-service plan reads from the spec.
struct LlmServiceFacts {
  std::string host = "k8s-pod", zone = "service-cluster";
  //! Tenants exist only with an API key file: without one every request is anonymous.
  bool keys = false;
  //! "<principal> (<its limits>)" for each principal with a limit.
  std::vector<std::string> limited;
  bool prefix = false;  //!< prefix caching is on
  std::optional<double> ttft, tpot;
  const ModelSpec* gen = nullptr;
  std::string gen_id;
};

std::vector<std::string> tenant_limit_summaries(const Spec& s) {
  std::vector<std::string> limited;
  for (const auto& p : s.authority.principals) {
    if (!p.limits) continue;
    std::vector<std::string> parts;
    if (p.limits->requests_per_minute > 0)
      parts.push_back(fmt::format("{} req/min", p.limits->requests_per_minute));
    if (p.limits->tokens_per_minute > 0)
      parts.push_back(fmt::format("{} tokens/min", p.limits->tokens_per_minute));
    if (p.limits->max_concurrent > 0)
      parts.push_back(fmt::format("{} concurrent", p.limits->max_concurrent));
    if (!p.limits->models.empty())
      parts.push_back(fmt::format("models {}", fmt::join(p.limits->models, ", ")));
    if (!parts.empty()) limited.push_back(fmt::format("{} ({})", p.id, fmt::join(parts, ", ")));
  }
  return limited;
}

LlmServiceFacts llm_service_facts(const PlanBuilder& b) {
  const Spec& s = b.spec();
  LlmServiceFacts f;
  f.keys = s.serving.present && !s.serving.api_keys.empty();
  f.limited = tenant_limit_summaries(s);
  f.prefix = !s.serving.present || s.serving.prefix_caching;
  f.ttft = s.slo.ttft_ms ? s.slo.ttft_ms->strictest() : std::nullopt;
  f.tpot = s.slo.tpot_ms ? s.slo.tpot_ms->strictest() : std::nullopt;
  f.gen = b.model_with_role(ModelRole::generate);
  f.gen_id = model_or(f.gen, "engine");
  return f;
}

void add_llm_service_auth_controls(PlanBuilder& b, const LlmServiceFacts& f) {
  const Spec& s = b.spec();
  if (f.keys) {
    b.control("gateway-auth", "authentication",
              fmt::format("API keys from {} stored as SHA-256 hashes; 401 without a valid key, 403 "
                          "for a model the tenant may not use",
                          s.serving.api_keys),
              "serving.api_keys");
    b.control("fair-scheduling", "scheduling",
              "tenants are served round-robin so one tenant's flood does not starve another",
              "serving.api_keys");
  } else {
    b.control("no-auth", "authentication",
              fmt::format("no API keys: every request is the anonymous tenant; the listener stays "
                          "on {} (K016 refuses a public address without keys)",
                          s.serving.host),
              "serving.api_keys");
  }
  if (f.keys && !f.limited.empty()) {
    b.control("tenant-quota", "quota",
              fmt::format("per-tenant limits, 429 with Retry-After past one: {}",
                          fmt::join(f.limited, "; ")),
              "authority.principals");
  }
}

void add_llm_service_lifecycle_controls(PlanBuilder& b, const LlmServiceFacts& f) {
  b.control("readiness", "lifecycle",
            "/readyz is 503 until the model is loaded and warmed, and again while draining",
            "deployment.models");
  b.control("cancel-on-disconnect", "lifecycle",
            "a client disconnect cancels its generation and frees its KV blocks at once",
            "scenario");
  if (f.ttft || f.tpot) {
    std::vector<std::string> objectives;
    if (f.ttft) objectives.push_back(fmt::format("TTFT under {} ms", *f.ttft));
    if (f.tpot) objectives.push_back(fmt::format("TPOT under {} ms", *f.tpot));
    b.control(
        "goodput-autoscaling", "autoscaling",
        fmt::format("goodput = share of requests with {}; the KEDA ScaledObject in "
                    "deploy/kubernetes/ scales replicas on it and on queue depth from /metrics",
                    fmt::join(objectives, " and ")),
        "slo");
  }
}

void add_llm_service_topology(PlanBuilder& b, const LlmServiceFacts& f) {
  const std::string& host = f.host;
  const std::string& zone = f.zone;
  b.component("gateway", "gateway", host, zone,
              f.keys ? "API keys, tenants, quotas" : "no API keys: anonymous tenant");
  b.component("server", "http-server", host, zone, "OpenAI-compatible API, SSE, event-driven");
  b.component("admission", "admission", host, zone, "bounded waiting queue");
  b.component("scheduler", "scheduler", host, zone, "continuous batching, chunked prefill");
  b.component(
      "kv-cache", "kv-cache", host, zone,
      f.prefix ? "paged blocks, prefix reuse, LRU eviction" : "paged blocks (prefix caching off)");
  b.add_models(host, zone);
  b.component("probes", "probes", host, zone, "/livez /startupz /readyz");
  b.component("autoscaler", "autoscaler", "k8s-control-plane", zone, "KEDA on goodput and queue");
  b.component("prometheus", "metrics-sink", "k8s-monitoring", zone, "scrapes /metrics");
  b.add_declared_components(host, zone);
  if (!f.gen) b.component(f.gen_id, "model", host, zone, "no generate model declared");

  b.link("gateway", "server", "in-process", "process");
  b.link("server", "admission", "in-process", "process");
  b.link("admission", "scheduler", "in-process", "process");
  b.link("scheduler", "kv-cache", "in-process", "process");
  b.link("scheduler", f.gen_id, "in-process", "process");
  b.link("prometheus", "server", "http", "cluster-network");
  b.link("autoscaler", "prometheus", "http", "cluster-network");
}

void add_llm_service_path(PlanBuilder& b, const LlmServiceFacts& f) {
  if (f.keys) {
    b.step("authenticate", "gateway", "check the API key, resolve the tenant", {"gateway-auth"});
    if (!f.limited.empty())
      b.step("quota", "gateway", "apply the tenant's quotas", {"tenant-quota"});
  } else {
    b.step("authenticate", "gateway", "no authentication: the anonymous tenant", {"no-auth"});
  }
  b.step("admit", "admission", "admit within bounds or answer 429 + Retry-After", {"admission"});
  b.step("schedule", "scheduler",
         f.keys ? "pick work fairly across tenants within the token budget"
                : "pick work in arrival order within the token budget",
         {"fair-scheduling"});
  b.step("prefill", f.gen_id,
         f.prefix ? "prefill the prompt, reusing cached prefix blocks" : "prefill the prompt",
         with_model_controls(b, {"readiness"}, f.gen));
  b.step("decode", f.gen_id, "decode in the continuous batch, streaming tokens",
         {"cancel-on-disconnect"});
  b.step("measure", "server", "record TTFT, TPOT and goodput",
         {"goodput-autoscaling", b.telemetry_control()});
}

void add_llm_service_metrics(PlanBuilder& b) {
  b.metric("keel_time_to_first_token_seconds", "seconds", "histogram", "server");
  b.metric("keel_time_per_output_token_seconds", "seconds", "histogram", "server");
  b.metric("keel_inter_token_latency_seconds", "seconds", "histogram", "server");
  b.metric("keel_request_queue_seconds", "seconds", "histogram", "admission");
  b.metric("keel_e2e_request_seconds", "seconds", "histogram", "server");
  b.metric("keel_requests_running", "requests", "gauge", "scheduler");
  b.metric("keel_requests_waiting", "requests", "gauge", "admission");
  b.metric("keel_kv_blocks_used_ratio", "ratio", "gauge", "kv-cache");
  b.metric("keel_kv_blocks_cached_ratio", "ratio", "gauge", "kv-cache");
  b.metric("keel_kv_preemptions_total", "requests", "counter", "scheduler");
  b.metric("keel_goodput_ratio", "ratio", "gauge", "server");
  b.metric("keel_prompt_tokens_total", "tokens", "counter", "scheduler");
  b.metric("keel_generation_tokens_total", "tokens", "counter", "scheduler");
  b.metric("keel_prefix_cache_hit_tokens_total", "tokens", "counter", "kv-cache");
  b.metric("keel_prefill_tokens_avoided_total", "tokens", "counter", "kv-cache");
  b.metric("keel_admission_rejections_total", "requests", "counter", "admission");
  b.metric("keel_requests_total", "requests", "counter", "server");
  b.metric("keel_goodput_requests_total", "requests", "counter", "server");
}

}  // namespace

void plan_llm_service(PlanBuilder& b) {
  const LlmServiceFacts f = llm_service_facts(b);
  add_llm_service_auth_controls(b, f);
  add_llm_service_lifecycle_controls(b, f);
  add_llm_service_topology(b, f);
  add_llm_service_path(b, f);
  add_llm_service_metrics(b);

  b.refuse("unbounded queueing");
  b.refuse("serving before the model is loaded and warmed");
  b.refuse("generating for a client that has gone");
}

namespace {

// What the durable-agent plan reads from the spec.
struct DurableAgentFacts {
  std::string host = "workflow-worker", zone = "agent-runtime";
  bool approvals = false;  //!< some tool needs an approval
  bool writes = false;     //!< some tool writes
  //! keel agent opens the component named `journal` (sqlite path or postgresql url).
  std::string journal = "journal";
  std::string system_of_record;
  const ModelSpec* gen = nullptr;
  std::string gen_id;
};

DurableAgentFacts durable_agent_facts(const PlanBuilder& b) {
  const Spec& s = b.spec();
  DurableAgentFacts f;
  for (const auto& t : s.authority.tools) f.approvals |= t.approval != Approval::none;
  f.writes = any_write_tool(s);
  f.system_of_record = s.authority.system_of_record.value_or("system-of-record");
  f.gen = b.model_with_role(ModelRole::generate);
  f.gen_id = model_or(f.gen, "model");
  return f;
}

// How an approver proves who they are: a signature under a registered key, or a bearer token.
std::string approver_proof(const Spec& s) {
  std::vector<std::string> keyed;
  for (const auto& p : s.authority.principals) {
    if (p.public_key) keyed.push_back(p.id);
  }
  return keyed.empty() ? std::string("an MCP bearer token (no approver has a registered key)")
                       : fmt::format(
                             "an Ed25519 signature under the key registered for {}, or an MCP "
                             "bearer token",
                             fmt::join(keyed, ", "));
}

void add_durable_agent_controls(PlanBuilder& b, const DurableAgentFacts& f) {
  const Spec& s = b.spec();
  b.control("journal-before-effect", "durability",
            "an intent record is durable before any side effect, an outcome record after it; "
            "replay never re-executes a completed step",
            "components");
  b.control("case-lease", "concurrency",
            "a worker holds a lease on a case; an expired lease lets another worker resume",
            "components");
  if (!f.approvals) return;
  b.control("approval-binding", "approval",
            "an approval binds to the hash of the arguments shown; different arguments at "
            "execution are refused",
            "authority.tools");
  const bool unsigned_allowed = s.authority.unsigned_approvals == UnsignedApprovals::allowed;
  b.control("approver-identity", "approval",
            fmt::format("a decision is recorded only from a proven approver holding the tool's "
                        "approving role: {}; unsigned approvals {}",
                        approver_proof(s),
                        unsigned_allowed ? "allowed for principals without a key" : "refused"),
            s.authority.unsigned_approvals_where.path);
}

void add_durable_agent_topology(PlanBuilder& b, const DurableAgentFacts& f) {
  const Spec& s = b.spec();
  const std::string& host = f.host;
  const std::string& zone = f.zone;
  b.component("worker", "workflow-engine", host, zone, "cases as resumable workflows");
  b.component("policy", "policy-engine", host, zone, "permit/forbid, default deny");
  b.component("approvals", "approval-inbox", host, zone, "durable pending approvals");
  b.component("tools", "tool-runtime", host, zone,
              fmt::format("{} typed tools", s.authority.tools.size()));
  b.add_declared_components(host, zone);
  b.add_models(host, zone);
  if (!b.has_component(f.journal)) {
    b.component(f.journal, "sqlite", host, zone, "case journal (no `journal` component declared)");
  }
  if (!b.has_component(f.system_of_record))
    b.component(f.system_of_record, "system-of-record", "business-systems", "systems-of-record");
  if (!f.gen) b.component(f.gen_id, "model", host, zone, "model endpoint");

  b.link("worker", f.journal, "sql", "process");
  b.link("worker", "policy", "in-process", "process");
  b.link("worker", "approvals", "in-process", "process");
  b.link("worker", f.gen_id, "in-process", "process");
  b.link("worker", "tools", "in-process", "process");
  b.link("tools", f.system_of_record, "tool-call", "network");
  if (s.authority.memory.store) {
    if (!b.has_component(*s.authority.memory.store)) {
      b.component(*s.authority.memory.store, "memory-store", host, zone, "agent memory");
    }
    b.link("tools", *s.authority.memory.store, "sql", "process");
  }
}

void add_durable_agent_path(PlanBuilder& b, const DurableAgentFacts& f) {
  b.step("claim", "worker", "claim a runnable case under a lease", {"case-lease"});
  b.step("replay", "worker", "rebuild state from the journal", {"journal-before-effect"});
  b.step("context", "tools", "fetch case context with read tools", {});
  b.step("decide", f.gen_id, "ask the model for the next action (journaled)",
         with_model_controls(b, {b.egress_control()}, f.gen));
  std::vector<std::string> policy, approval, act;
  for (const auto& t : b.spec().authority.tools) {
    policy.push_back("permission:" + t.name);
    if (t.approval != Approval::none) approval.push_back("approval:" + t.name);
    if (t.effect != Effect::read) {
      act.push_back("idempotency:" + t.name);
      act.push_back("outcome-check:" + t.name);
    }
  }
  b.step("authorize", "policy", "decide permit/deny for the action; journal the rule", policy);
  if (f.approvals) {
    approval.push_back("approval-binding");
    approval.push_back("approver-identity");
    b.step("approve", "approvals", "suspend durably until approved when the spec requires it",
           approval);
  }
  act.push_back("journal-before-effect");
  b.step("act", "tools", "run the tool with its idempotency key; check unknown outcomes", act);
  b.step("remember", "tools", "write memory only through explicit tools", {b.memory_control()});
  b.step("complete", "worker", "record the outcome", {b.telemetry_control()});
}

void add_durable_agent_metrics(PlanBuilder& b, const DurableAgentFacts& f) {
  b.metric("keel_agent_cases_total", "cases", "counter", "worker");
  b.metric("keel_agent_case_seconds", "seconds", "histogram", "worker");
  b.metric("keel_agent_steps_total", "steps", "counter", "worker");
  b.metric("keel_agent_tool_retries_total", "retries", "counter", "tools");
  b.metric("keel_agent_outcome_checks_total", "checks", "counter", "tools");
  b.metric("keel_agent_duplicates_prevented_total", "actions", "counter", "tools");
  b.metric("keel_agent_approvals_total", "approvals", "counter", "approvals");
  b.metric("keel_agent_policy_denials_total", "decisions", "counter", "policy");
  b.metric("keel_agent_model_tokens_total", "tokens", "counter", f.gen_id);
  b.metric("keel_agent_model_seconds_total", "seconds", "counter", f.gen_id);
  b.metric("keel_agent_replays_total", "replays", "counter", "worker");
}

}  // namespace

void plan_durable_agent(PlanBuilder& b) {
  const Spec& s = b.spec();
  const DurableAgentFacts f = durable_agent_facts(b);
  add_durable_agent_controls(b, f);
  add_durable_agent_topology(b, f);
  add_durable_agent_path(b, f);
  add_durable_agent_metrics(b, f);

  if (f.writes && s.authority.system_of_record) {
    b.refuse("retrying a write whose outcome is unknown without asking the system of record");
  }
  if (f.approvals) b.refuse("executing an action whose approval was given for other arguments");
  b.refuse("remembering anything implicitly");
  if (s.authority.system_of_record)
    b.refuse("the system of record itself (it stays authoritative)");
}

namespace {

// What the hybrid-field plan reads from the spec.
struct HybridFieldFacts {
  std::string host = "field-device", zone = "device";
  const ModelSpec* local = nullptr;   //!< the first local model
  const ModelSpec* remote = nullptr;  //!< the first remote model egress reaches, if any
  bool consent = false;               //!< the remote route needs the user's consent
  bool writes = false;                //!< some tool writes
  bool sync = false;                  //!< writes go to a system of record
  const Component* queue_store = nullptr;
  std::string queue_id;
  std::string local_id;
};

// The offline queue: the first durable store declared that is not the system of record.
const Component* offline_queue_store(const Spec& s) {
  const Component* queue_store = nullptr;
  for (const auto& c : s.components) {
    bool store = c.kind == ComponentKind::sqlite || c.kind == ComponentKind::queue ||
                 c.kind == ComponentKind::device_storage;
    if (store && c.is_durable() && c.id != s.authority.system_of_record.value_or("") &&
        !queue_store) {
      queue_store = &c;
    }
  }
  return queue_store;
}

HybridFieldFacts hybrid_field_facts(const Spec& s) {
  HybridFieldFacts f;
  for (const auto& m : s.deployment.models) {
    if (m.runs == ModelPlacement::local && !f.local) f.local = &m;
    if (m.runs == ModelPlacement::remote && !f.remote) f.remote = &m;
  }
  // A remote route exists only when egress reaches the remote model.
  if (f.remote && (s.deployment.egress.none || !s.deployment.egress.allows(f.remote->url)))
    f.remote = nullptr;
  // Consent: every class under opt-in when routing.consent names none; else the classes it names.
  f.consent = f.remote && (!s.routing.consent.empty() || s.deployment.remote_fallback == RemoteFallback::opt_in);
  f.writes = any_write_tool(s);
  f.sync = f.writes && s.authority.system_of_record.has_value();
  f.queue_store = offline_queue_store(s);
  f.queue_id = f.queue_store ? f.queue_store->id : "command-queue";
  f.local_id = model_or(f.local, "local-model");
  return f;
}

void add_hybrid_field_controls(PlanBuilder& b, const HybridFieldFacts& f) {
  const Spec& s = b.spec();
  b.control("route-policy", "route",
            "route chosen from data class, connectivity, capability, deadline and consent; the "
            "decision and its reason are recorded",
            "deployment");
  if (f.consent) {
    std::vector<std::string> classes;
    for (auto c : s.routing.consent) classes.emplace_back(enum_name(c));
    b.control("consent", "route",
              classes.empty() ? fmt::format("requests go to {} only with the user's recorded consent", f.remote->id)
                              : fmt::format("{} data goes to {} only with the user's recorded consent",
                                            fmt::join(classes, ", "), f.remote->id),
              s.routing.consent.empty() ? "deployment.remote_fallback" : "routing.consent");
  }
  if (f.sync) {
    std::vector<std::string> rules;
    for (const auto& [field, rule] : s.sync.rules) rules.push_back(fmt::format("{}: {}", field, enum_name(rule)));
    b.control("versioned-sync", "idempotency",
              fmt::format("each change carries an id and a base version; {} applies it once and "
                          "reports conflicts instead of overwriting; the device pulls and rebases "
                          "before it replays, resolving a field both sides changed by {}{}",
                          *s.authority.system_of_record,
                          rules.empty() ? "" : fmt::format("{}; otherwise ", fmt::join(rules, ", ")),
                          enum_name(s.sync.fallback)),
              s.sync.present ? "sync" : "authority.system_of_record");
  }
  if (f.writes && f.queue_store) {
    b.control("durable-offline-queue", "durability",
              fmt::format("commands made offline are written to {} before they are acknowledged",
                          f.queue_store->id),
              f.queue_store->where.path);
  }
}

void add_hybrid_field_topology(PlanBuilder& b, const HybridFieldFacts& f) {
  const std::string& host = f.host;
  const std::string& zone = f.zone;
  b.component("app", "app", host, zone, "field assistant");
  b.component("router", "route-policy", host, zone, "data class, connectivity, deadline, consent");
  b.component("connectivity", "monitor", host, zone, "link state and latency");
  b.add_declared_components(host, zone);
  if (!b.has_component(f.queue_id)) {
    b.component(f.queue_id, "device-storage", host, zone,
                "no durable store declared for offline commands");
  }
  b.component(
      "sync", "sync-agent", host, zone,
      f.sync ? "versioned idempotent sync" : "nothing to sync: no write tool and system of record");
  b.component("cloud-api", "http-service", "private-cloud", "private-cloud", "sync endpoint");
  b.add_models(host, zone);
  if (!f.local) b.component(f.local_id, "model", host, zone, "no local model declared");

  b.link("app", "router", "in-process", "process");
  b.link("router", "connectivity", "in-process", "process");
  b.link("router", f.local_id, "in-process", "process");
  if (f.remote) b.link("router", PlanBuilder::model_component(*f.remote), "https", "internet");
  b.link("app", f.queue_id, "sqlite", "process");
  b.link("sync", f.queue_id, "sqlite", "process");
  if (f.sync) b.link("sync", "cloud-api", "https", "internet");
}

void add_hybrid_field_path(PlanBuilder& b, const HybridFieldFacts& f) {
  const Spec& s = b.spec();
  b.step("classify", "router", "label the request with its data class and deadline",
         {"route-policy"});
  b.step(
      "route", "router",
      f.remote ? "choose local, remote or refuse; record the reason"
               : "choose local or refuse; record the reason",
      {"route-policy", "consent", "route-" + std::string(enum_name(s.failure.on_route_unavailable)),
       b.remote_fallback_control()});
  b.step("infer-local", f.local_id, "answer on the device model",
         with_model_controls(b, {}, f.local));
  if (f.remote) {
    b.step("infer-remote", PlanBuilder::model_component(*f.remote),
           "answer on the private-cloud model when policy and connectivity allow",
           {b.egress_control(), "consent"});
  }
  if (f.writes && f.queue_store) {
    b.step("queue", f.queue_id, "store commands made offline durably", {"durable-offline-queue"});
  }
  if (f.sync) {
    b.step("sync", "sync", "send queued changes with ids and base versions; resolve conflicts",
           {"versioned-sync", b.egress_control()});
  }
}

void add_hybrid_field_metrics(PlanBuilder& b) {
  b.metric("keel_route_decisions_total", "decisions", "counter", "router");
  b.metric("keel_route_fallbacks_total", "decisions", "counter", "router");
  b.metric("keel_offline_requests_total", "requests", "counter", "router");
  b.metric("keel_offline_success_ratio", "ratio", "gauge", "router");
  b.metric("keel_sync_conflicts_total", "changes", "counter", "sync");
  b.metric("keel_sync_duplicates_prevented_total", "changes", "counter", "sync");
  b.metric("keel_request_seconds", "seconds", "histogram", "router");
  b.metric("keel_model_version_parity", "ratio", "gauge", "sync");
}

}  // namespace

void plan_hybrid_field(PlanBuilder& b) {
  const HybridFieldFacts f = hybrid_field_facts(b.spec());
  add_hybrid_field_controls(b, f);
  add_hybrid_field_topology(b, f);
  add_hybrid_field_path(b, f);
  add_hybrid_field_metrics(b);

  b.refuse("sending data to a route its class forbids");
  if (b.spec().failure.on_route_unavailable == OnRouteUnavailable::fail_closed) {
    b.refuse("answering on a route the policy forbids when the permitted one is unavailable");
  }
  if (f.sync) b.refuse("overwriting a newer version during sync");
}

}  // namespace keel::contract
