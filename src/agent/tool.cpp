#include "agent/tool.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/json_schema.h"

namespace keel::agent {

Result<std::optional<Json>> Tool::check_outcome(const ToolCallContext&) {
  return Status::unimplemented(fmt::format("tool {} has no outcome check", definition().name));
}

Status ToolRegistry::add(std::shared_ptr<Tool> tool) {
  const auto& d = tool->definition();
  if (tools_.count(d.name)) return Status::invalid_argument(fmt::format("tool {} is registered twice", d.name));
  if (Status s = check_schema(d.input_schema); !s.ok()) return s.with_context(fmt::format("tool {} input schema", d.name));
  if (Status s = check_schema(d.output_schema); !s.ok()) return s.with_context(fmt::format("tool {} output schema", d.name));
  tools_[d.name] = std::move(tool);
  return Status();
}

Tool* ToolRegistry::find(const std::string& name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ToolRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tools_) out.push_back(name);
  return out;
}

Status ToolRegistry::check_against(const contract::Spec& spec) const {
  for (const auto& declared : spec.authority.tools) {
    Tool* t = find(declared.name);
    if (!t) {
      return Status::failed_precondition(fmt::format("the spec declares tool {} but no implementation provides it (available: {})",
                                                     declared.name, fmt::join(names(), ", ")));
    }
    if (t->definition().effect != declared.effect) {
      return Status::failed_precondition(fmt::format("tool {} is {} in the spec but {} in its implementation", declared.name,
                                                     contract::enum_name(declared.effect),
                                                     contract::enum_name(t->definition().effect)));
    }
  }
  return Status();
}

std::string idempotency_key(const std::string& case_id, int64_t step, const std::string& tool, const Json& args) {
  Json material = {{"case", case_id}, {"step", step}, {"tool", tool}, {"args", args}};
  return "keel-" + sha256_hex(canonical_json(material)).substr(0, 40);
}

std::string args_sha256(const Json& args) { return sha256_hex(canonical_json(args)); }

}  // namespace keel::agent
