#include "contract/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/egress_policy.h"
#include "core/hash.h"

namespace keel::contract {

#define KEEL_ENUM_TABLE(E, ...)                                \
  template <>                                                  \
  std::span<const EnumEntry<E>> enum_entries<E>() {            \
    static constexpr EnumEntry<E> kEntries[] = {__VA_ARGS__};  \
    return kEntries;                                           \
  }

KEEL_ENUM_TABLE(ScenarioId, {ScenarioId::local_research, "local-research"},
                {ScenarioId::enterprise_rag, "enterprise-rag"},
                {ScenarioId::browser_classifier, "browser-classifier"},
                {ScenarioId::mobile_vision, "mobile-vision"},
                {ScenarioId::llm_service, "llm-service"},
                {ScenarioId::durable_agent, "durable-agent"},
                {ScenarioId::hybrid_field, "hybrid-field"})
KEEL_ENUM_TABLE(DataClass, {DataClass::public_data, "public"}, {DataClass::internal, "internal"},
                {DataClass::confidential, "confidential"}, {DataClass::restricted, "restricted"})
KEEL_ENUM_TABLE(SourceKind, {SourceKind::folder, "folder"}, {SourceKind::file, "file"},
                {SourceKind::database, "database"}, {SourceKind::api, "api"},
                {SourceKind::semantic_layer, "semantic-layer"}, {SourceKind::camera, "camera"},
                {SourceKind::sensor, "sensor"}, {SourceKind::user_input, "user-input"},
                {SourceKind::queue, "queue"})
KEEL_ENUM_TABLE(Access, {Access::read_only, "read-only"}, {Access::read_write, "read-write"})
KEEL_ENUM_TABLE(Retention, {Retention::none, "none"}, {Retention::session, "session"},
                {Retention::durable, "durable"})
KEEL_ENUM_TABLE(Effect, {Effect::read, "read"}, {Effect::write, "write"},
                {Effect::irreversible, "irreversible"})
KEEL_ENUM_TABLE(Idempotency, {Idempotency::required, "required"}, {Idempotency::none, "none"})
KEEL_ENUM_TABLE(Approval, {Approval::none, "none"}, {Approval::always, "always"},
                {Approval::conditional, "conditional"})
KEEL_ENUM_TABLE(PolicyEffect, {PolicyEffect::permit, "permit"}, {PolicyEffect::forbid, "forbid"})
KEEL_ENUM_TABLE(UnsignedApprovals, {UnsignedApprovals::refused, "refused"},
                {UnsignedApprovals::allowed, "allowed"})
KEEL_ENUM_TABLE(RemoteReaders, {RemoteReaders::refused, "refused"},
                {RemoteReaders::allowed, "allowed"})
KEEL_ENUM_TABLE(MemoryWrites, {MemoryWrites::none, "none"},
                {MemoryWrites::explicit_writes, "explicit"})
KEEL_ENUM_TABLE(Target, {Target::desktop, "desktop"}, {Target::browser, "browser"},
                {Target::mobile, "mobile"}, {Target::cluster, "cluster"},
                {Target::workflow, "workflow"}, {Target::field, "field"})
KEEL_ENUM_TABLE(RemoteFallback, {RemoteFallback::disabled, "disabled"},
                {RemoteFallback::opt_in, "opt-in"}, {RemoteFallback::enabled, "enabled"})
KEEL_ENUM_TABLE(TelemetrySink, {TelemetrySink::local, "local"}, {TelemetrySink::otlp, "otlp"},
                {TelemetrySink::none, "none"})
KEEL_ENUM_TABLE(ModelRole, {ModelRole::generate, "generate"}, {ModelRole::embed, "embed"},
                {ModelRole::classify, "classify"}, {ModelRole::detect, "detect"},
                {ModelRole::rerank, "rerank"})
KEEL_ENUM_TABLE(ModelPlacement, {ModelPlacement::local, "local"},
                {ModelPlacement::remote, "remote"})
KEEL_ENUM_TABLE(ConflictRule, {ConflictRule::server_wins, "server-wins"}, {ConflictRule::device_wins, "device-wins"},
                {ConflictRule::merge, "merge"}, {ConflictRule::ask, "ask"})
KEEL_ENUM_TABLE(OnModelUnfit, {OnModelUnfit::fallback, "fallback"}, {OnModelUnfit::fail, "fail"})
KEEL_ENUM_TABLE(OnRouteUnavailable, {OnRouteUnavailable::fail_closed, "fail-closed"},
                {OnRouteUnavailable::fail_open, "fail-open"},
                {OnRouteUnavailable::queue, "queue"})
KEEL_ENUM_TABLE(ComponentKind, {ComponentKind::sqlite, "sqlite"},
                {ComponentKind::postgresql, "postgresql"},
                {ComponentKind::file_store, "file-store"},
                {ComponentKind::object_store, "object-store"},
                {ComponentKind::browser_storage, "browser-storage"},
                {ComponentKind::device_storage, "device-storage"},
                {ComponentKind::cache, "cache"}, {ComponentKind::ephemeral, "ephemeral"},
                {ComponentKind::queue, "queue"}, {ComponentKind::http_service, "http-service"},
                {ComponentKind::model_server, "model-server"},
                {ComponentKind::gateway, "gateway"},
                {ComponentKind::identity_provider, "identity-provider"},
                {ComponentKind::approval_inbox, "approval-inbox"},
                {ComponentKind::mcp_server, "mcp-server"})
KEEL_ENUM_TABLE(Fault, {Fault::model_restart, "model-restart"},
                {Fault::worker_kill, "worker-kill"}, {Fault::disk_full, "disk-full"},
                {Fault::storage_corrupt, "storage-corrupt"}, {Fault::db_stop, "db-stop"},
                {Fault::overload, "overload"}, {Fault::client_disconnect, "client-disconnect"},
                {Fault::tool_timeout, "tool-timeout"},
                {Fault::approval_timeout, "approval-timeout"},
                {Fault::model_unfit, "model-unfit"}, {Fault::kv_exhausted, "kv-exhausted"},
                {Fault::egress_attempt, "egress-attempt"}, {Fault::stale_index, "stale-index"},
                {Fault::policy_store_unavailable, "policy-store-unavailable"},
                {Fault::backend_unavailable, "backend-unavailable"},
                {Fault::storage_evicted, "storage-evicted"},
                {Fault::delegate_failure, "delegate-failure"},
                {Fault::thermal_throttle, "thermal-throttle"},
                {Fault::update_corrupt, "update-corrupt"},
                {Fault::connectivity_loss, "connectivity-loss"},
                {Fault::remote_unavailable, "remote-unavailable"},
                {Fault::sync_conflict, "sync-conflict"})

#undef KEEL_ENUM_TABLE

DataClass DataSpec::highest_class() const {
  DataClass highest = DataClass::public_data;
  for (DataClass c : classes) highest = std::max(highest, c);
  return highest;
}

const RoutedTask* RoutingSpec::task(std::string_view type) const {
  for (const auto& t : tasks)
    if (t.type == type) return &t;
  return nullptr;
}

bool ModelSpec::approved_for(DataClass c) const {
  return classes.empty() || std::find(classes.begin(), classes.end(), c) != classes.end();
}

std::optional<double> LatencySlo::strictest() const {
  if (p99) return p99;
  if (p95) return p95;
  if (p90) return p90;
  return p50;
}

bool Egress::allows(std::string_view url_or_host) const {
  return !none && egress_list_allows(allow, url_or_host);
}

bool Component::is_durable() const {
  // A cache stays a cache whatever its `durable:` says; other kinds may opt out.
  if (kind == ComponentKind::cache || kind == ComponentKind::ephemeral) return false;
  return durable.value_or(true);
}

std::vector<std::string> Tool::approving_roles() const {
  return approver_roles.empty() ? std::vector<std::string>{"approver"} : approver_roles;
}

const Principal* AuthoritySpec::find_principal(std::string_view id) const {
  for (const auto& p : principals) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::string format_public_key(const Ed25519PublicKey& key) { return format_ed25519_public_key(key); }

Result<Ed25519PublicKey> parse_public_key(std::string_view text) {
  return parse_ed25519_public_key(text);
}

const Component* Spec::find_component(std::string_view id) const {
  for (const auto& c : components) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

const ModelSpec* Spec::find_model(std::string_view id) const {
  for (const auto& m : deployment.models) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

Status replace_model_file(Spec& spec, ModelRole role, const std::string& file) {
  for (auto& m : spec.deployment.models) {
    if (m.role != role || m.runs != ModelPlacement::local) continue;
    std::error_code ec;
    auto absolute = std::filesystem::absolute(file, ec);
    m.path = ec ? file : absolute.lexically_normal().string();
    m.sha256.clear();
    return Status::ok_status();
  }
  return Status::not_found(fmt::format("the spec names no local model with role {}", enum_name(role)));
}

SpecLocation Spec::locate(std::string_view path, int fallback_line) const {
  std::string_view at = path;
  while (!at.empty()) {
    if (auto it = key_lines.find(at); it != key_lines.end()) return {std::string(path), it->second};
    size_t cut = at.find_last_of(".[");
    at = at.substr(0, cut == std::string_view::npos ? 0 : cut);
  }
  return {std::string(path), fallback_line};
}

}  // namespace keel::contract
