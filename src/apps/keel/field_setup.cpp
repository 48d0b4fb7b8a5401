#include "apps/keel/field_setup.h"

#include <fmt/format.h>

#include "contract/checks.h"
#include "core/file_io.h"

namespace keel::app {
namespace {

route::RouteOption option_of(const contract::Spec& spec, const contract::ModelSpec& m, route::Route r) {
  route::RouteOption o;
  o.route = r;
  o.model_id = m.id;
  const auto& classes = m.classes.empty() ? spec.data.classes : m.classes;
  for (auto c : classes) o.classes.emplace_back(contract::enum_name(c));
  o.capabilities = m.capabilities;
  if (o.capabilities.empty() && m.role == contract::ModelRole::generate) o.capabilities = {"generate"};
  o.estimate_ms = m.estimate_ms.value_or(r == route::Route::local ? 2000 : 1000);
  return o;
}

}  // namespace

sync::SyncRules sync_rules_of(const contract::Spec& spec) {
  auto rule = [](contract::ConflictRule r) {
    switch (r) {
      case contract::ConflictRule::device_wins: return sync::FieldRule::device_wins;
      case contract::ConflictRule::merge: return sync::FieldRule::merge;
      case contract::ConflictRule::ask: return sync::FieldRule::ask;
      case contract::ConflictRule::server_wins: break;
    }
    return sync::FieldRule::server_wins;
  };
  sync::SyncRules out;
  out.fallback = rule(spec.sync.fallback);
  for (const auto& [field, r] : spec.sync.rules) out.fields[field] = rule(r);
  return out;
}

Result<std::string> read_device_key(const std::string& path) {
  auto key = read_file(path);
  if (!key.ok()) return Status::invalid_argument("--key-file: " + key.status().message());
  std::string k = *key;
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r' || k.back() == ' ')) k.pop_back();
  if (k.empty() || k.find_first_of(" \t\r\n") != std::string::npos)
    return Status::invalid_argument("--key-file: must hold this device's API key alone, on one line (keel keygen prints it)");
  return k;
}

Result<route::FieldRoutingConfig> field_routing_config(const contract::Spec& spec, const CloudSettings& cloud) {
  route::FieldRoutingConfig c;
  if (spec.routing.tasks.empty())
    return Status::invalid_argument(fmt::format("{}: routing.tasks declares no task types to ask", spec.file));
  for (const auto& t : spec.routing.tasks)
    c.tasks.push_back({t.type, std::string(contract::enum_name(t.data_class)), t.needs, t.deadline_ms});
  for (const auto& m : spec.deployment.models) {
    if (m.role != contract::ModelRole::generate) continue;
    if (m.runs == contract::ModelPlacement::local && !c.local) {
      c.local = option_of(spec, m, route::Route::local);
      c.local_model_path = contract::resolve_spec_path(spec, m.path);
      c.local_max_ram_mb = m.max_ram_mb;
    } else if (m.runs == contract::ModelPlacement::remote && !c.cloud &&
               spec.deployment.remote_fallback != contract::RemoteFallback::disabled && !cloud.key_file.empty()) {
      c.cloud = option_of(spec, m, route::Route::cloud);
      c.endpoint.base_url = cloud.url.empty() ? m.url : cloud.url;
      c.endpoint.model = m.id;
      KEEL_ASSIGN_OR_RETURN(c.endpoint.key, read_device_key(cloud.key_file));
    }
  }
  c.endpoint.timeout_ms = cloud.timeout_ms;
  c.endpoint.probe_path = spec.routing.probe_path;
  c.endpoint.probe_deadline_ms = spec.routing.probe_deadline_ms;
  for (auto cls : spec.routing.consent) c.consent_classes.emplace_back(contract::enum_name(cls));
  c.consent_for_every_class =
      spec.routing.consent.empty() && spec.deployment.remote_fallback == contract::RemoteFallback::opt_in;
  return c;
}

}  // namespace keel::app
