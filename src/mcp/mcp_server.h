// The MCP server's protocol logic, independent of the transport (stdio or Streamable HTTP):
// the lifecycle (initialize, notifications/initialized, ping), tools, resources and prompts
// with pagination, cancellation notices, and JSON-RPC errors for everything malformed.
//
// Protocol revision 2025-11-25 (2025-06-18 and 2025-03-26 are accepted when a client asks for
// them). Requests before initialize are refused; unknown methods are -32601; a message that is
// not JSON-RPC 2.0 is -32600; a params field of the wrong type (or missing) is -32602; a
// handler that throws is -32603 and the server goes on. Every field is read with its type
// checked: no message, however malformed, ends the server.
// Tool failures (policy denial, approval denial, invalid arguments) are results with isError,
// as the protocol asks, so the model sees them; a tool the principal may not use at all is
// reported as forbidden so an HTTP transport can answer 403.
//
// Threads: a message is handled in two steps. prepare() parses it and runs the session's
// lifecycle on the caller's thread (cheap: no provider is called); what needs a provider
// (lists, reads, prompts, tool calls) comes back as work that touches no Session and may run
// on any thread, concurrently with other work. Transports run the work on worker pools so a
// slow tool never holds up the thread that reads and writes messages.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "mcp/jsonrpc.h"

namespace keel::mcp {

inline constexpr std::string_view kLatestProtocol = "2025-11-25";
bool is_supported_protocol(std::string_view version);

struct Session {
  std::string id;
  std::string principal;     //!< who is calling (from a bearer token, or the server's --as)
  bool initialized = false;  //!< initialize was answered
  bool ready = false;        //!< notifications/initialized arrived
  std::string protocol_version;
  nlohmann::json client_info;
};

//! Result of a tools/call: an MCP CallToolResult, or forbidden (the principal may not use it).
struct ToolCallOutcome {
  nlohmann::json result;  //!< {content, structuredContent?, isError?}
  bool forbidden = false;
  std::string forbidden_reason;
};

// Providers are called from worker threads, concurrently (a tools/list while a tools/call
// runs, two reads at once): each synchronizes its own state.
class ToolProvider {
 public:
  virtual ~ToolProvider() = default;
  //! MCP Tool objects the principal may use.
  virtual std::vector<nlohmann::json> list(const std::string& principal) = 0;
  //! not_found for an unknown tool (a protocol error); otherwise a result.
  [[nodiscard]] virtual Result<ToolCallOutcome> call(const std::string& principal,
                                                     const std::string& name,
                                                     const nlohmann::json& arguments) = 0;
};

class ResourceProvider {
 public:
  virtual ~ResourceProvider() = default;
  [[nodiscard]] virtual Result<std::vector<nlohmann::json>> list() = 0;
  //! The ReadResourceResult contents; not_found for an unknown URI.
  [[nodiscard]] virtual Result<nlohmann::json> read(const std::string& uri) = 0;
};

class PromptProvider {
 public:
  virtual ~PromptProvider() = default;
  virtual std::vector<nlohmann::json> list() = 0;
  //! GetPromptResult; not_found for an unknown prompt, invalid_argument for missing arguments.
  [[nodiscard]] virtual Result<nlohmann::json> get(const std::string& name,
                                                   const nlohmann::json& arguments) = 0;
};

struct ServerReply {
  std::optional<std::string> body;  //!< nullopt for accepted notifications and responses
  int http_status = 200;            //!< 202 when there is no body; 403 for a forbidden tool
  //! The message was a notification or a response: JSON-RPC answers neither, so stdio writes
  //! nothing back; Streamable HTTP answers http_status (400 with `body`, an error without an
  //! id, when the notification was malformed).
  bool to_notification = false;
};

//! A message after McpServer::prepare(): answered already, or work still to run.
struct PreparedMessage {
  //! Which worker pool the work belongs on: tool calls may be slow (journal writes, outside
  //! systems, back-off); lists and reads should not queue behind them.
  enum class Lane { quick, tool_call };
  std::optional<ServerReply> reply;   //!< set when the message is answered
  std::function<ServerReply()> work;  //!< set otherwise; never throws; touches no Session
  Lane lane = Lane::quick;
};

class McpServer {
 public:
  McpServer(std::string name, std::string version, std::string instructions);

  //! Providers and page size are set before serving starts and never while work runs.
  void add_tools(std::shared_ptr<ToolProvider> p) { tools_.push_back(std::move(p)); }
  void add_resources(std::shared_ptr<ResourceProvider> p) { resources_.push_back(std::move(p)); }
  void add_prompts(std::shared_ptr<PromptProvider> p) { prompts_.push_back(std::move(p)); }
  void set_page_size(size_t n) { page_size_ = n; }

  //! Step one for one message of a session, on the session's thread and in message order:
  //! parses it, runs the lifecycle, and answers it or returns the work that answers it.
  PreparedMessage prepare(std::string_view text, Session& session);
  PreparedMessage prepare(ParsedMessage parsed, Session& session);
  //! Both steps on the calling thread.
  ServerReply handle(std::string_view text, Session& session);

 private:
  //! prepare()'s answer to a request the server answers itself, on the session's thread: the
  //! lifecycle (initialize, ping, refusals before initialize), logging/setLevel and unknown
  //! methods. nullopt for a provider method: that becomes work.
  std::optional<ServerReply> answer_in_session(const Message& m, Session& session);
  //! The initialize handshake: records the client and the negotiated protocol version in the
  //! session and lists the server's capabilities.
  ServerReply initialize(const Message& m, Session& session);
  //! The work of a request: `principal` is the session's, copied.
  ServerReply answer(const nlohmann::json& id, const std::string& method,
                     const nlohmann::json& params, const std::string& principal);
  Result<nlohmann::json> dispatch(const std::string& method, const nlohmann::json& params,
                                  const std::string& principal, int* http_status);
  nlohmann::json page(std::vector<nlohmann::json> items, const nlohmann::json& params,
                      const char* key, Status* error) const;

  std::string name_, version_, instructions_;
  std::vector<std::shared_ptr<ToolProvider>> tools_;
  std::vector<std::shared_ptr<ResourceProvider>> resources_;
  std::vector<std::shared_ptr<PromptProvider>> prompts_;
  size_t page_size_ = 50;
};

}  // namespace keel::mcp
