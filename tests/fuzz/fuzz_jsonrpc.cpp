// Fuzz target: MCP's JSON-RPC framing and the server's lifecycle and dispatch on hostile
// messages (before and after initialize).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)keel::mcp::parse_message(text);
  static keel::mcp::McpServer server("fuzz", "0", "");
  keel::mcp::Session fresh;
  (void)server.handle(text, fresh);
  keel::mcp::Session ready;
  (void)server.handle(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})", ready);
  (void)server.handle(text, ready);
  return 0;
}
