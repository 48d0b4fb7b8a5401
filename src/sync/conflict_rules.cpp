#include "sync/conflict_rules.h"

namespace keel::sync {
namespace {

constexpr std::pair<FieldRule, std::string_view> kNames[] = {{FieldRule::server_wins, "server-wins"},
                                                             {FieldRule::device_wins, "device-wins"},
                                                             {FieldRule::merge, "merge"},
                                                             {FieldRule::ask, "ask"}};

// A field's value, or a marker that it is absent (distinct from null).
Json value_of(const Json& fields, const std::string& name) {
  auto it = fields.find(name);
  return it == fields.end() ? Json{{"$absent", true}} : *it;
}

Json merged(const Json& server, const Json& device) {
  if (!server.is_string() || !device.is_string()) return device;
  const std::string s = server.get<std::string>(), d = device.get<std::string>();
  if (s.find(d) != std::string::npos) return s;
  if (d.find(s) != std::string::npos) return d;
  return s + "\n" + d;
}

}  // namespace

std::string_view field_rule_name(FieldRule r) {
  for (const auto& [rule, name] : kNames)
    if (rule == r) return name;
  return "?";
}

std::optional<FieldRule> field_rule_named(std::string_view name) {
  for (const auto& [rule, n] : kNames)
    if (n == name) return rule;
  return std::nullopt;
}

FieldRule SyncRules::rule_for(const std::string& collection, const std::string& field) const {
  if (auto it = fields.find(collection + "." + field); it != fields.end()) return it->second;
  if (auto it = fields.find(field); it != fields.end()) return it->second;
  return fallback;
}

Rebase rebase(const Mutation& m, int64_t server_version, const Json& server_fields, const SyncRules& rules) {
  Rebase out;
  if (server_version == m.base_version) {
    out.mutation = m;
    return out;
  }
  Mutation next = m;
  next.base_version = server_version;
  next.set = Json::object();
  next.base = Json::object();
  for (const auto& [field, device] : m.set.items()) {
    const Json server = value_of(server_fields, field);
    const Json base = value_of(m.base, field);
    if (server == device) continue;  // already so on the server
    Json keep = device;
    if (server != base) {  // both changed it
      const FieldRule rule = rules.rule_for(m.collection, field);
      switch (rule) {
        case FieldRule::server_wins: keep = nullptr; break;
        case FieldRule::device_wins: break;
        case FieldRule::merge: keep = merged(server, device); break;
        case FieldRule::ask: out.held = true; break;
      }
      out.conflicts.push_back({field, rule, server, device, rule == FieldRule::server_wins ? Json() : keep});
      if (rule == FieldRule::server_wins || keep == server) continue;
    }
    next.set[field] = keep;
    if (server_fields.contains(field)) next.base[field] = server_fields[field];
  }
  if (out.held) {
    out.mutation = m;  // untouched until the user decides
    return out;
  }
  if (!next.set.empty()) out.mutation = std::move(next);
  return out;
}

}  // namespace keel::sync
