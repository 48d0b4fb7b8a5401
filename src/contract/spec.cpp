#include "contract/spec.h"

#include <algorithm>

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

std::optional<double> LatencySlo::strictest() const {
  if (p99) return p99;
  if (p95) return p95;
  if (p90) return p90;
  return p50;
}

namespace {

// "https://user@Host.example:4317/v1/traces" -> "host.example:4317" and "host.example".
void host_of(std::string_view url, std::string* host_port, std::string* host) {
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  std::string hp(url);
  std::transform(hp.begin(), hp.end(), hp.begin(), [](unsigned char c) { return std::tolower(c); });
  *host_port = hp;
  // [::1]:4317 keeps its brackets; host:port loses the port.
  if (!hp.empty() && hp.front() == '[') {
    *host = hp.substr(0, hp.find(']') + 1);
  } else {
    *host = hp.substr(0, hp.find(':'));
  }
}

}  // namespace

bool Egress::allows(std::string_view url_or_host) const {
  if (none) return false;
  std::string host_port, host;
  host_of(url_or_host, &host_port, &host);
  for (const auto& entry : allow) {
    std::string allowed_port, allowed_host;
    host_of(entry, &allowed_port, &allowed_host);
    bool entry_has_port = allowed_port != allowed_host;
    if (entry_has_port ? allowed_port == host_port : allowed_host == host) return true;
    // "*.example.com" covers subdomains, not example.com itself.
    if (allowed_host.size() > 2 && allowed_host.rfind("*.", 0) == 0) {
      std::string_view suffix = std::string_view(allowed_host).substr(1);
      if (host.size() > suffix.size() &&
          host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return true;
      }
    }
  }
  return false;
}

bool Component::is_durable() const {
  // A cache stays a cache whatever its `durable:` says; other kinds may opt out.
  if (kind == ComponentKind::cache || kind == ComponentKind::ephemeral) return false;
  return durable.value_or(true);
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

}  // namespace keel::contract
