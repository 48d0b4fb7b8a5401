// A deployment served over MCP, assembled from checked specs: a durable-agent spec's tools
// (through its policy, approvals and journal), a local-research spec's indexed documents as
// resources and a prompt that cites them. The transport (stdio or HTTP) is the caller's.
//
// Contract: the specs are loaded and accepted by their checks before this is called; open()
// connects each agent spec's outside MCP tools, opens its deployment from the catalog, opens each
// research spec's index (which must exist), and refuses (invalid_argument) a default principal
// or a token file naming a principal no spec declares, and a spec of another scenario. The
// specs must outlive the deployment (its tools refer to them).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/agent_deployment.h"
#include "agent/catalog.h"
#include "contract/spec.h"
#include "core/result.h"
#include "mcp/mcp_server.h"

namespace keel::mcp {

struct McpDeploymentOptions {
  std::string state_dir;          //!< the agents' SQLite components live here when set
  std::string journal;            //!< the agents' journal (SQLite file or postgresql:// URI)
  std::string store;              //!< the research index (default: context::default_store_path)
  std::string default_principal;  //!< for unauthenticated clients; default: the first agent's
  std::string tokens_path;        //!< bearer tokens -> principals ("" when none)
  //! Whether every client is proven by a bearer token: only then are approval tools offered.
  bool principals_authenticated = false;
  const agent::Catalog* catalog = nullptr;
};

class McpDeployment {
 public:
  [[nodiscard]] static Result<std::unique_ptr<McpDeployment>> open(const std::vector<contract::Spec>& specs,
                                                                   std::string server_version,
                                                                   const McpDeploymentOptions& options);
  McpServer& server() { return server_; }
  //! The principal of clients that do not authenticate ("" when none is known).
  const std::string& default_principal() const { return default_principal_; }

 private:
  explicit McpDeployment(std::string version);
  [[nodiscard]] Status add_agent(const contract::Spec& spec, const McpDeploymentOptions& options);
  [[nodiscard]] Status add_documents(const contract::Spec& spec, const McpDeploymentOptions& options);
  [[nodiscard]] Status check_principals(const McpDeploymentOptions& options) const;

  McpServer server_;
  std::vector<std::unique_ptr<agent::AgentDeployment>> agents_;
  std::string default_principal_;
};

}  // namespace keel::mcp
