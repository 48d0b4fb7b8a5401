#include "agent/workflow.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace keel::agent {

void WorkflowRegistry::add(WorkflowDefinition definition) {
  auto key = std::make_pair(definition.name, definition.version);
  definitions_[key] = std::move(definition);
}

Result<const WorkflowDefinition*> WorkflowRegistry::find(const std::string& name, int version) const {
  auto it = definitions_.find({name, version});
  if (it != definitions_.end()) return &it->second;
  std::vector<int> versions;
  for (const auto& [key, d] : definitions_) {
    if (key.first == name) versions.push_back(key.second);
  }
  if (versions.empty()) return Status::not_found(fmt::format("no workflow named {} in this build", name));
  return Status::not_found(fmt::format(
      "the case is pinned to {} version {}, which this build does not have (it has {}); run it with the build "
      "that started it",
      name, version, fmt::join(versions, ", ")));
}

Result<const WorkflowDefinition*> WorkflowRegistry::latest(const std::string& name) const {
  const WorkflowDefinition* best = nullptr;
  for (const auto& [key, d] : definitions_) {
    if (key.first == name && (!best || d.version > best->version)) best = &d;
  }
  if (!best) return Status::not_found(fmt::format("no workflow named {} in this build", name));
  return best;
}

}  // namespace keel::agent
