#include "agent/catalog.h"

#include <fmt/format.h>

#include <set>

namespace keel::agent {

Status Catalog::add_workflow(WorkflowDefinition definition) {
  for (const auto& w : workflows_) {
    if (w.name == definition.name && w.version == definition.version) {
      return Status::already_exists(fmt::format("workflow {} version {} is registered twice", w.name, w.version));
    }
  }
  workflows_.push_back(std::move(definition));
  return Status::ok_status();
}

Status Catalog::add_provider(const std::string& name, SystemOfRecordProvider open) {
  if (!providers_.emplace(name, std::move(open)).second) {
    return Status::already_exists(fmt::format("system-of-record provider {} is registered twice", name));
  }
  return Status::ok_status();
}

bool Catalog::has_workflow(const std::string& name) const {
  for (const auto& w : workflows_) {
    if (w.name == name) return true;
  }
  return false;
}

Result<const SystemOfRecordProvider*> Catalog::provider(const std::string& name) const {
  auto it = providers_.find(name);
  if (it != providers_.end()) return &it->second;
  std::string known;
  for (const auto& [n, p] : providers_) known += (known.empty() ? "" : ", ") + n;
  return Status::not_found(fmt::format("no system-of-record provider named {} is registered (this keel has: {})", name,
                                       known.empty() ? "none" : known));
}

std::string Catalog::workflow_names() const {
  std::set<std::string> names;
  for (const auto& w : workflows_) names.insert(w.name);
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace keel::agent
