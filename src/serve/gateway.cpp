#include "serve/gateway.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/hash.h"
#include "core/yaml_reader.h"

namespace keel::serve {

namespace {

constexpr uint64_t kMaxKeyFileBytes = 4 << 20;

}  // namespace

void Gateway::Bucket::refill(int64_t now_ns) {
  double seconds = static_cast<double>(now_ns - updated_ns) / 1e9;
  tokens = std::min(capacity, tokens + seconds * per_second);
  updated_ns = now_ns;
}

std::unique_ptr<Gateway> Gateway::open_access(const Clock& clock) {
  auto g = std::unique_ptr<Gateway>(new Gateway(clock));
  g->open_ = true;
  g->tenants_["anonymous"] = TenantState{};
  return g;
}

void Gateway::add_tenant(const std::string& id, const std::vector<std::string>& key_hashes, const TenantLimits& limits) {
  std::lock_guard lock(mutex_);
  const int64_t now = clock_.now_ns();
  TenantState t;
  t.limits = limits;
  t.requests = {limits.requests_per_minute, limits.requests_per_minute, limits.requests_per_minute / 60.0, now};
  t.tokens = {limits.tokens_per_minute, limits.tokens_per_minute, limits.tokens_per_minute / 60.0, now};
  tenants_[id] = t;
  for (const auto& h : key_hashes) key_to_tenant_[h] = id;
}

void Gateway::set_limits(const std::string& tenant, const TenantLimits& limits) {
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mutex_);
    if (open_) return;  // without keys every request is anonymous
  }
  add_tenant(tenant, keys, limits);
}

Result<std::unique_ptr<Gateway>> Gateway::from_key_file(const std::string& path,
                                                        const Clock& clock) {
  auto root = load_yaml_file(path, kMaxKeyFileBytes);
  if (!root.ok()) {
    if (root.status().code() == StatusCode::not_found)
      return Status::not_found(fmt::format("API key file {} cannot be read", path));
    return root.status();
  }
  struct Entry {
    std::string id;
    std::vector<std::string> hashes;
    TenantLimits limits;
  };
  std::vector<Entry> entries;
  YamlReader r;
  auto top = r.map(*root, "", 1);
  if (!top.valid()) r.errors.push_back({"", 1, "expected a mapping with a 'tenants' list"});
  r.list(top.require("tenants"), "tenants", [&](const YAML::Node& node, const std::string& p) {
    auto t = r.item(node, p);
    if (!t.valid()) return;
    Entry e;
    auto id = r.identifier(t.require("id"), p + ".id");
    if (auto v = r.non_negative(t.get("requests_per_minute"), p + ".requests_per_minute"))
      e.limits.requests_per_minute = *v;
    if (auto v = r.non_negative(t.get("tokens_per_minute"), p + ".tokens_per_minute"))
      e.limits.tokens_per_minute = *v;
    if (auto v = r.integer(t.get("max_concurrent"), p + ".max_concurrent", 0))
      e.limits.max_concurrent = *v;
    e.limits.models = r.string_list(t.get("models"), p + ".models");
    r.list(t.get("keys_sha256"), p + ".keys_sha256", [&](const YAML::Node& n, const std::string& q) {
      if (auto h = r.sha256_hex(n, q)) e.hashes.push_back(*h);
    });
    t.finish();
    if (id) {
      e.id = *id;
      entries.push_back(std::move(e));
    }
  });
  top.finish();
  KEEL_RETURN_IF_ERROR(r.status(path));
  auto g = std::unique_ptr<Gateway>(new Gateway(clock));
  for (const auto& e : entries) g->add_tenant(e.id, e.hashes, e.limits);
  return g;
}

Result<std::string> Gateway::authenticate(std::optional<std::string_view> authorization) const {
  if (open_) return std::string("anonymous");
  if (!authorization) return Status::unauthenticated("no API key: send 'Authorization: Bearer <key>'");
  std::string_view v = *authorization;
  if (v.size() < 7 || (v.substr(0, 7) != "Bearer " && v.substr(0, 7) != "bearer ")) {
    return Status::unauthenticated("the Authorization header must be 'Bearer <key>'");
  }
  std::string hash = sha256_hex(v.substr(7));
  std::lock_guard lock(mutex_);
  auto it = key_to_tenant_.find(hash);
  if (it == key_to_tenant_.end()) return Status::unauthenticated("the API key is not valid");
  return it->second;
}

bool Gateway::allows(const std::string& tenant, const std::string& model) const {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return false;
  const auto& m = it->second.limits.models;
  return m.empty() || std::find(m.begin(), m.end(), model) != m.end() || std::find(m.begin(), m.end(), "*") != m.end();
}

QuotaDecision Gateway::acquire(const std::string& tenant, int64_t tokens) {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return {false, 1, "unknown tenant"};
  TenantState& t = it->second;
  const int64_t now = clock_.now_ns();
  const TenantLimits& l = t.limits;
  if (l.max_concurrent > 0 && t.in_flight >= l.max_concurrent) {
    return {false, 1, fmt::format("tenant {} has {} requests in flight, its limit", tenant, t.in_flight)};
  }
  if (l.requests_per_minute > 0) {
    t.requests.refill(now);
    if (t.requests.tokens < 1) {
      return {false, (1 - t.requests.tokens) / t.requests.per_second,
              fmt::format("tenant {} is over its {} requests per minute", tenant, l.requests_per_minute)};
    }
  }
  if (l.tokens_per_minute > 0) {
    t.tokens.refill(now);
    if (tokens > t.tokens.capacity) {
      return {false, 60, fmt::format("this request needs {} tokens; tenant {} may use {} per minute", tokens, tenant,
                                     l.tokens_per_minute)};
    }
    if (t.tokens.tokens < tokens) {
      return {false, (tokens - t.tokens.tokens) / t.tokens.per_second,
              fmt::format("tenant {} is over its {} tokens per minute", tenant, l.tokens_per_minute)};
    }
    t.tokens.tokens -= static_cast<double>(tokens);
  }
  if (l.requests_per_minute > 0) t.requests.tokens -= 1;
  ++t.in_flight;
  return {};
}

void Gateway::release(const std::string& tenant, int64_t unused_tokens) {
  std::lock_guard lock(mutex_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  TenantState& t = it->second;
  t.in_flight = std::max<int64_t>(0, t.in_flight - 1);
  if (t.limits.tokens_per_minute > 0 && unused_tokens > 0) {
    t.tokens.tokens = std::min(t.tokens.capacity, t.tokens.tokens + static_cast<double>(unused_tokens));
  }
}

std::vector<std::string> Gateway::tenants() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [id, t] : tenants_) out.push_back(id);
  return out;
}

}  // namespace keel::serve
