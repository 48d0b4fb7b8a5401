// An MCP client, so a Keel deployment can use tools from an outside MCP server: over stdio (a
// child process, one JSON-RPC message per line) or Streamable HTTP (JSON or SSE responses,
// Mcp-Session-Id and MCP-Protocol-Version handled).
//
// The outside server's tools become agent tools only as the spec declares them: the effect
// class, roles and approval come from the spec, never from the server's annotations (which
// are hints a client must not trust), and every call goes through Keel's policy, approval
// gate and journal like any other tool.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/tool.h"
#include "contract/spec.h"
#include "core/result.h"

namespace keel::mcp {

class McpClient {
 public:
  //! `url` is "http://host:port/mcp" or "stdio:<command> <args...>" (split on spaces). The
  //! bearer token (HTTP only) is sent to that server and nowhere else.
  [[nodiscard]] static Result<std::unique_ptr<McpClient>> connect(const std::string& url, const std::string& bearer_token = "",
                                                                  int64_t timeout_ms = 30000);
  ~McpClient();

  [[nodiscard]] Result<nlohmann::json> request(const std::string& method, const nlohmann::json& params);
  //! Every tool, following pagination cursors.
  [[nodiscard]] Result<std::vector<nlohmann::json>> list_tools();
  const nlohmann::json& server_info() const { return server_info_; }
  const std::string& url() const { return url_; }

  struct Transport;

 private:
  McpClient() = default;
  std::unique_ptr<Transport> transport_;
  std::string url_;
  nlohmann::json server_info_;
  int64_t next_id_ = 1;
  std::mutex mutex_;
};

//! The tools of the spec's mcp-server components that its authority.tools declares, bound to
//! connected clients. A declared tool no server offers is left for the spec check to report.
[[nodiscard]] Result<std::vector<std::shared_ptr<agent::Tool>>> connect_mcp_tools(const contract::Spec& spec);

}  // namespace keel::mcp
