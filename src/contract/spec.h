// The scenario spec: a deployment's data, authority, SLO, deployment and failure constraints
// as typed values (schema version `keel: 1`, see DESIGN.md and docs/spec.md).
//
// Contract: a Spec is produced only by parse_spec() (contract/spec_parser.h), which has
// already checked types, enum values, required keys and unknown keys. Cross-references
// (a fallback naming a model, a store naming a component) and deployment mistakes are *not*
// checked here: they are the named checks of contract/checks.h. Every list item remembers
// where it came from (YAML path and line) so checks and plans can point at it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/signature.h"
#include "core/serving_defaults.h"

namespace keel::contract {

//! Where a value sits in the spec file: "authority.tools[0]" and its 1-based line.
struct SpecLocation {
  std::string path;
  int line = 0;
};

enum class ScenarioId {
  local_research,
  enterprise_rag,
  browser_classifier,
  mobile_vision,
  llm_service,
  durable_agent,
  hybrid_field,
};

//! Ordered by sensitivity: public < internal < confidential < restricted.
enum class DataClass { public_data = 0, internal, confidential, restricted };
enum class SourceKind { folder, file, database, api, semantic_layer, camera, sensor, user_input, queue };
enum class Access { read_only, read_write };
enum class Retention { none, session, durable };
enum class Effect { read, write, irreversible };
enum class Idempotency { none, required };
enum class Approval { none, always, conditional };
enum class PolicyEffect { permit, forbid };
//! Whether a principal without a registered public key may approve without signing.
enum class UnsignedApprovals { refused, allowed };
//! Whether clients beyond loopback may read a deployment's private data (check K018).
enum class RemoteReaders { refused, allowed };
enum class MemoryWrites { none, explicit_writes };
enum class Target { desktop, browser, mobile, cluster, workflow, field };
enum class RemoteFallback { disabled, opt_in, enabled };
enum class TelemetrySink { none, local, otlp };
enum class ModelRole { generate, embed, classify, detect, rerank };
enum class ModelPlacement { local, remote };
enum class OnModelUnfit { fallback, fail };
enum class OnRouteUnavailable { fail_closed, fail_open, queue };
enum class ConflictRule { server_wins, device_wins, merge, ask };
enum class ComponentKind {
  sqlite,
  postgresql,
  file_store,
  object_store,
  browser_storage,
  device_storage,
  cache,
  ephemeral,
  queue,
  http_service,
  model_server,
  gateway,
  identity_provider,
  approval_inbox,
  mcp_server,  //!< an outside MCP server whose tools the deployment uses (url: http://… or stdio:command)
};

//! Faults a spec may ask to inject; contract/faults.h describes each one's recovery.
enum class Fault {
  model_restart,
  worker_kill,
  disk_full,
  storage_corrupt,
  db_stop,
  overload,
  client_disconnect,
  tool_timeout,
  approval_timeout,
  model_unfit,
  kv_exhausted,
  egress_attempt,
  stale_index,
  policy_store_unavailable,
  backend_unavailable,
  storage_evicted,
  delegate_failure,
  thermal_throttle,
  update_corrupt,
  connectivity_loss,
  remote_unavailable,
  sync_conflict,
};

struct DataSource {
  SpecLocation where;
  std::string id;
  SourceKind kind = SourceKind::folder;
  std::string path;  //!< folder/file path or connection string; may be empty
  Access access = Access::read_only;
};

struct DataSpec {
  SpecLocation where;
  std::vector<DataClass> classes;
  std::vector<DataSource> sources;
  Retention raw_input_retention = Retention::none;
  //! The most sensitive class present (public if none).
  DataClass highest_class() const;
};

//! Per-principal limits where principals are tenants of a service (llm-service).
struct PrincipalLimits {
  double requests_per_minute = 0;  //!< 0: no limit
  double tokens_per_minute = 0;
  int64_t max_concurrent = 0;
  std::vector<std::string> models;  //!< empty: every model
};

struct Principal {
  SpecLocation where;
  std::string id;
  std::vector<std::string> roles;
  std::optional<PrincipalLimits> limits;
  //! `public_key: "ed25519:<64 hex digits>"`: the key this principal's approvals are signed
  //! with (`keel agent keygen`); an approval in this principal's name must carry a signature
  //! that verifies under it.
  std::optional<Ed25519PublicKey> public_key;
};

//! The spelling of a public key in a spec: "ed25519:" followed by 64 lower-case hex digits.
inline constexpr std::string_view kEd25519KeyPrefix = keel::kEd25519KeyPrefix;
std::string format_public_key(const Ed25519PublicKey& key);
//! invalid_argument, naming what is wrong, for anything but kEd25519KeyPrefix + 64 hex digits.
[[nodiscard]] Result<Ed25519PublicKey> parse_public_key(std::string_view text);

struct Tool {
  SpecLocation where;
  std::string name;
  std::string description;
  Effect effect = Effect::read;
  Idempotency idempotency = Idempotency::none;
  Approval approval = Approval::none;
  std::string condition;  //!< when approval is conditional, e.g. "args.amount > 100"
  std::vector<std::string> roles;
  int64_t timeout_ms = 0;  //!< 0: the runtime default
  //! An approval request undecided this long is reminded to reviewers (a journal record).
  std::optional<double> approval_remind_after_s;
  //! An approval request undecided this long expires: the action is denied.
  std::optional<double> approval_expire_after_s;
  //! Roles whose holders may approve (or deny) this tool's calls; empty means [approver].
  std::vector<std::string> approver_roles;
  //! approver_roles, or {"approver"} when none are listed.
  std::vector<std::string> approving_roles() const;
};

//! A permission rule (the Cedar model): permit or forbid the listed roles to call the listed
//! tools, when the condition holds. Forbid wins over permit; without a permit, deny. Each
//! tool's `roles` are permit rules of their own.
struct PolicyRule {
  SpecLocation where;
  std::string id;
  PolicyEffect effect = PolicyEffect::permit;
  std::vector<std::string> roles;  //!< empty: any principal
  std::vector<std::string> tools;  //!< tool names, or "*"
  std::string when;                //!< condition over args, case and principal; empty: always
  std::string reason;              //!< shown with a denial
};

struct MemorySpec {
  SpecLocation where;
  MemoryWrites writes = MemoryWrites::none;
  std::optional<std::string> store;  //!< component id; nullopt when null or absent
};

struct AuthoritySpec {
  SpecLocation where;
  std::vector<Principal> principals;
  std::vector<Tool> tools;
  std::vector<PolicyRule> policy;
  MemorySpec memory;
  std::optional<std::string> system_of_record;  //!< component id
  //! The workflow cases run (durable-agent), by the name an application registered it under
  //! (agent/catalog.h); "" when the spec names none.
  std::string workflow;
  //! `refused` (the default): an approver must sign with a registered key (or arrive over an
  //! authenticated channel, MCP with bearer tokens); `allowed`: a principal without a
  //! `public_key` may approve from the command line without signing.
  UnsignedApprovals unsigned_approvals = UnsignedApprovals::refused;
  SpecLocation unsigned_approvals_where;
  const Principal* find_principal(std::string_view id) const;
};

//! A latency objective. Percentile keys are the distribution; `mean`, `max` and a bare
//! number are accepted by the parser so that check K010 can name them.
struct LatencySlo {
  SpecLocation where;
  std::optional<double> p50, p90, p95, p99;
  std::optional<double> mean, max, bare;
  bool has_percentile() const { return p50 || p90 || p95 || p99; }
  //! The tightest stated percentile target (p99 before p95 before p90 before p50).
  std::optional<double> strictest() const;
};

struct Distribution {
  std::optional<double> p50, p95, p99, max;
};

struct Workload {
  SpecLocation where;
  std::optional<double> rps;
  std::optional<int64_t> concurrency;
  std::optional<Distribution> prompt_tokens;
  std::optional<Distribution> output_tokens;
  std::optional<Distribution> input_bytes;
  bool empty() const { return !rps && !concurrency; }
};

struct SloSpec {
  SpecLocation where;
  std::optional<LatencySlo> ttft_ms;
  std::optional<LatencySlo> tpot_ms;
  std::optional<LatencySlo> e2e_ms;
  std::optional<LatencySlo> latency_ms;  //!< for non-generative models (classifiers, vision)
  std::optional<Workload> workload;
  bool present = false;
};

struct Egress {
  SpecLocation where;
  bool none = true;                //!< `egress: none`
  std::vector<std::string> allow;  //!< hosts (or host:port) when not none
  //! Whether `host` (a URL or host[:port]) is covered by the allow-list.
  bool allows(std::string_view url_or_host) const;
};

struct Telemetry {
  SpecLocation where;
  TelemetrySink sink = TelemetrySink::local;
  std::string endpoint;  //!< URL, for otlp
};

struct ModelSpec {
  SpecLocation where;
  std::string id;
  std::string path;  //!< as written in the spec (relative to the spec file's folder)
  std::string url;   //!< where a client fetches it (browser, mobile update), or a remote endpoint
  ModelPlacement runs = ModelPlacement::local;  //!< `runs: remote` for a private-cloud model
  std::string sha256;
  std::string format;  //!< gguf | onnx | keel-program; inferred from the file name if absent
  ModelRole role = ModelRole::generate;
  std::optional<int64_t> max_ram_mb;
  std::vector<std::string> fallbacks;
  //! The data classes this model is approved to read (`classes:`); empty: every class of
  //! data.classes. A router never sends a more sensitive class to it (K013 checks the names).
  std::vector<DataClass> classes;
  bool approved_for(DataClass c) const;
  //! What the model can do (`capabilities:`, e.g. [generate, long-context]): a field task that
  //! needs one it lacks is never routed to it (hybrid-field `routing.tasks`).
  std::vector<std::string> capabilities;
  //! The latency a router assumes for this model before it has measured any (`estimate_ms:`).
  std::optional<double> estimate_ms;
};

struct DeploymentSpec {
  SpecLocation where;
  Target target = Target::desktop;
  Egress egress;
  RemoteFallback remote_fallback = RemoteFallback::disabled;
  Telemetry telemetry;
  std::vector<ModelSpec> models;
  //! `allowed`: listeners beyond loopback may serve this deployment's private data (K018).
  RemoteReaders remote_readers = RemoteReaders::refused;
  SpecLocation remote_readers_where;
};

struct OverloadPolicy {
  int status = 429;
  double retry_after_s = 1;
};

struct FailureSpec {
  SpecLocation where;
  OnModelUnfit on_model_unfit = OnModelUnfit::fail;
  std::optional<OverloadPolicy> on_overload;
  OnRouteUnavailable on_route_unavailable = OnRouteUnavailable::fail_closed;
  bool on_route_unavailable_set = false;
  std::vector<Fault> inject;
  SpecLocation inject_where;
  bool present = false;
};

//! How a model server runs (scenario llm-service; `keel serve --spec`).
struct ServingSpec {
  SpecLocation where;
  bool present = false;
  std::string host = serving_defaults::kHost;
  int64_t port = serving_defaults::kPort;
  int64_t max_running = serving_defaults::kMaxRunning;
  int64_t max_waiting = serving_defaults::kMaxWaiting;
  int64_t max_queued_tokens = serving_defaults::kMaxQueuedTokens;  //!< 0: the KV cache's capacity
  int64_t context_tokens = serving_defaults::kContextTokens;
  int64_t max_tokens_limit = serving_defaults::kMaxTokensLimit;
  int64_t step_token_budget = serving_defaults::kStepTokenBudget;
  bool prefix_caching = true;
  std::string api_keys;  //!< key file, relative to the spec
  double grace_period_s = serving_defaults::kGracePeriodS;
  double max_queue_wait_ms = serving_defaults::kMaxQueueWaitMs;  //!< refuse requests predicted to wait longer (0: off)
  // Client connections (serve/connection_limits.h).
  int64_t max_connections = serving_defaults::kMaxConnections;
  int64_t max_connections_per_peer = serving_defaults::kMaxConnectionsPerPeer;  //!< 0: no per-peer cap
  int64_t header_timeout_ms = serving_defaults::kHeaderTimeoutMs;
  int64_t body_timeout_ms = serving_defaults::kBodyTimeoutMs;
  int64_t idle_timeout_ms = serving_defaults::kIdleTimeoutMs;
};

//! How an identity-provider component's tokens are read: `issuer` (default: the component's
//! url), `audience`, `jwks` (a key-set file relative to the spec, or an https URL on the egress
//! allow-list) and `claims: {principal, tenant, roles}` (the claim names). Only that kind takes
//! these keys; a command's flags override each.
struct IdentitySettings {
  std::string issuer;
  std::string audience;
  std::string jwks;
  std::string principal_claim = "sub";
  std::string tenant_claim = "tenant";
  std::string roles_claim = "roles";
};

//! How field records sync (hybrid-field: `keel field sync`, `keel sync serve`): what a field
//! both the device and the server changed resolves to, by "collection.field" or "field", and
//! `default` for the rest.
struct SyncSpec {
  SpecLocation where;
  bool present = false;
  ConflictRule fallback = ConflictRule::server_wins;
  std::vector<std::pair<std::string, ConflictRule>> rules;
};

//! A kind of field task (hybrid-field `routing.tasks.<type>`): the class of data it reads, the
//! capabilities it needs and its deadline.
struct RoutedTask {
  SpecLocation where;
  std::string type;
  DataClass data_class = DataClass::internal;
  std::vector<std::string> needs;
  double deadline_ms = 0;  //!< 0: none
};

//! How field tasks are routed (hybrid-field: `keel field ask`): the private endpoint's probe,
//! the classes the cloud reads only with the user's consent, and the task types.
struct RoutingSpec {
  SpecLocation where;
  bool present = false;
  std::string probe_path = "/livez";  //!< on the remote model's endpoint (its url's origin)
  double probe_deadline_ms = 800;
  std::vector<DataClass> consent;     //!< classes the cloud reads only with recorded consent
  std::vector<RoutedTask> tasks;
  const RoutedTask* task(std::string_view type) const;
};

//! How the browser classifier's app runs (`keel web serve`): where its files are, the key its
//! model must be signed with, the form's categories, the providers in preference order, the
//! device memory below which the page does not load the model, and the remote endpoint the
//! opt-in fallback may call (the app's own origin).
struct BrowserSpec {
  SpecLocation where;
  bool present = false;
  std::string app = "web";  //!< the app's folder, relative to the spec
  std::optional<Ed25519PublicKey> signer;
  std::vector<std::string> categories;
  std::vector<std::string> providers = {"webnn", "webgpu", "wasm"};
  int64_t min_device_memory_mb = 1024;
  std::string remote_endpoint = "/api/classify";
};

//! How a mobile-vision model is prepared for a device (`keel edge prepare --spec`): the least
//! share of its multiply-accumulates an accelerator delegate must run, and the most partitions
//! (copies between delegates) the program may have; a model outside them is refused, or its
//! model's fallback prepared for the CPU instead.
struct EdgeSpec {
  SpecLocation where;
  bool present = false;
  double min_delegate_coverage = 0;  //!< 0..1
  int64_t max_partitions = 0;        //!< 0: no bound
  //! The thermal budget (`keel run --video`): the frame rate halves from throttle_celsius, the
  //! smaller model takes over from the midpoint, a quarter of the rate from critical_celsius.
  double throttle_celsius = 45;
  double critical_celsius = 55;
  //! The only key a device believes for program updates (`keel edge update install --spec`).
  std::optional<Ed25519PublicKey> update_signer;
};

struct Component {
  SpecLocation where;
  std::string id;
  ComponentKind kind = ComponentKind::sqlite;
  std::string path;
  std::string url;
  std::optional<bool> durable;  //!< `durable: false` marks a normally durable kind as not
  //! The implementation that serves this component, by the name an application registered it
  //! under (a system of record: agent/catalog.h); "" when none is named.
  std::string provider;
  std::optional<IdentitySettings> identity;  //!< set for kind identity-provider
  //! Never for kinds cache/ephemeral (whatever `durable:` says); otherwise unless `durable: false`.
  bool is_durable() const;
};

struct Spec {
  std::string file;     //!< path the spec was read from ("" when parsed from a string)
  std::string base_dir; //!< folder relative paths resolve against
  int version = 1;
  std::string name;
  std::string description;
  ScenarioId scenario = ScenarioId::local_research;
  DataSpec data;
  AuthoritySpec authority;
  SloSpec slo;
  DeploymentSpec deployment;
  FailureSpec failure;
  ServingSpec serving;
  SyncSpec sync;
  RoutingSpec routing;
  BrowserSpec browser;
  EdgeSpec edge;
  std::vector<Component> components;
  //! The line of every key the parser read, by YAML path ("authority.tools",
  //! "authority.tools[1].roles"): where checks and plans point.
  std::map<std::string, int, std::less<>> key_lines;

  const Component* find_component(std::string_view id) const;
  const ModelSpec* find_model(std::string_view id) const;
  //! `path` at the line of its key; a key the file does not write points at its nearest written
  //! ancestor ("deployment.remote_fallback" left to its default points at `deployment:`), and
  //! at `fallback_line` when none is written.
  SpecLocation locate(std::string_view path, int fallback_line = 0) const;
};

//! Points the spec's first local model with `role` at `file` (made absolute), as a command's
//! `--model` flag does: the model's sha256 pin is dropped (it named the other file) and its
//! fallbacks kept. not_found when the spec has no local model with that role.
[[nodiscard]] Status replace_model_file(Spec& spec, ModelRole role, const std::string& file);

// Stable spellings, as written in specs and in plans ("local-research", "fail-closed").
template <typename E>
struct EnumEntry {
  E value;
  std::string_view name;
};
//! Every value of E with its spelling; specialised in spec.cpp for each enum above.
template <typename E>
std::span<const EnumEntry<E>> enum_entries();

template <typename E>
std::string_view enum_name(E value) {
  for (const auto& e : enum_entries<E>()) {
    if (e.value == value) return e.name;
  }
  return "?";
}
//! "a|b|c", for error messages.
template <typename E>
std::string enum_choices() {
  std::string out;
  for (const auto& e : enum_entries<E>()) {
    if (!out.empty()) out += '|';
    out += e.name;
  }
  return out;
}

}  // namespace keel::contract
