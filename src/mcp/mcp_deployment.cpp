#include "mcp/mcp_deployment.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "context/store.h"
#include "contract/checks.h"
#include "mcp/agent_tools.h"
#include "mcp/document_resources.h"
#include "mcp/mcp_client.h"
#include "mcp/transports.h"

namespace keel::mcp {

McpDeployment::McpDeployment(std::string version)
    : server_("keel", std::move(version),
              "Keel deployment over MCP. Write tools need an idempotency_key; reuse it to retry. Actions that need a "
              "human return status pending_approval and run only after approval.") {}

Result<std::unique_ptr<McpDeployment>> McpDeployment::open(const std::vector<contract::Spec>& specs,
                                                           std::string server_version,
                                                           const McpDeploymentOptions& options) {
  auto d = std::unique_ptr<McpDeployment>(new McpDeployment(std::move(server_version)));
  d->default_principal_ = options.default_principal;
  for (const auto& spec : specs) {
    if (spec.scenario == contract::ScenarioId::durable_agent) {
      KEEL_RETURN_IF_ERROR(d->add_agent(spec, options));
    } else if (spec.scenario == contract::ScenarioId::local_research) {
      KEEL_RETURN_IF_ERROR(d->add_documents(spec, options));
    } else {
      return Status::invalid_argument(fmt::format("{} is a {} spec; MCP serves durable-agent and local-research specs",
                                                  spec.file, contract::enum_name(spec.scenario)));
    }
  }
  KEEL_RETURN_IF_ERROR(d->check_principals(options));
  return d;
}

Status McpDeployment::add_agent(const contract::Spec& spec, const McpDeploymentOptions& options) {
  agent::AgentDeploymentOptions o;
  KEEL_ASSIGN_OR_RETURN(o.extra_tools, connect_mcp_tools(spec));
  o.state_dir = options.state_dir;
  o.journal = options.journal;
  o.catalog = options.catalog;
  KEEL_ASSIGN_OR_RETURN(auto deployment, agent::AgentDeployment::open(spec, o));
  if (default_principal_.empty()) default_principal_ = deployment->default_principal();
  server_.add_tools(std::make_shared<AgentTools>(*deployment, spec, options.principals_authenticated));
  agents_.push_back(std::move(deployment));
  return Status::ok_status();
}

Status McpDeployment::add_documents(const contract::Spec& spec, const McpDeploymentOptions& options) {
  KEEL_ASSIGN_OR_RETURN(std::string folder, contract::document_folder(spec));
  std::string store = options.store.empty() ? context::default_store_path(spec.name) : options.store;
  if (!std::filesystem::exists(store)) {
    return Status::not_found(
        fmt::format("no index at {}: build it with `keel index` (or `keel run {}`) first", store, spec.file));
  }
  KEEL_ASSIGN_OR_RETURN(auto docs, DocumentResources::open(store, folder));
  server_.add_resources(docs);
  server_.add_prompts(std::make_shared<DocumentPrompts>(docs));
  return Status::ok_status();
}

// A principal nobody declared would see no tools at all: refuse the typo instead.
Status McpDeployment::check_principals(const McpDeploymentOptions& options) const {
  if (agents_.empty()) return Status::ok_status();
  auto known = [&](const std::string& principal) {
    return std::any_of(agents_.begin(), agents_.end(), [&](const auto& a) { return a->policy().knows_principal(principal); });
  };
  if (!default_principal_.empty() && !known(default_principal_)) {
    return Status::invalid_argument(fmt::format("--as {}: no spec declares this principal", default_principal_));
  }
  if (options.tokens_path.empty()) return Status::ok_status();
  KEEL_ASSIGN_OR_RETURN(TokenFile tokens, TokenFile::load(options.tokens_path));
  for (const auto& p : tokens.principals()) {
    if (!known(p)) {
      return Status::invalid_argument(fmt::format("{}: principal {} is not declared in any spec", options.tokens_path, p));
    }
  }
  return Status::ok_status();
}

}  // namespace keel::mcp
