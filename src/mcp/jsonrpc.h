// JSON-RPC 2.0 framing for MCP: one message in, a typed message (request, notification or
// response) or a typed error out, and the error objects MCP clients expect.
//
// Contract: parse_message() never throws, whatever the bytes or the types of the fields, and
// bounds what it accepts (size, nesting depth); every problem maps to the code JSON-RPC
// prescribes: -32700 parse error (not JSON), -32600 invalid request (not a JSON-RPC 2.0
// message: "jsonrpc" not the string "2.0", an id not a string or integer, a method not a
// non-empty string, params not an object; or a batch: MCP has none since 2025-06-18).
// A Message's fields have the types named below; the payload of params, result and error is
// unchecked JSON, which its reader must check field by field.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace keel::mcp {

namespace rpc_error {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int server_busy = -32000;  //!< a limit was reached (e.g. sessions): retry later
inline constexpr int resource_not_found = -32002;  //!< MCP: resources/read of an unknown URI
}  // namespace rpc_error

inline constexpr size_t kMaxMessageBytes = 4 << 20;

struct Message {
  enum class Kind { request, notification, response };
  Kind kind = Kind::request;
  nlohmann::json id;  //!< string or integer (requests and responses)
  std::string method;
  nlohmann::json params = nlohmann::json::object();
  nlohmann::json result;  //!< responses
  nlohmann::json error;   //!< responses
};

struct ParseError {
  int code = rpc_error::parse_error;
  std::string message;
  nlohmann::json id;  //!< the request id when it could be read, else null
};

//! A message, or the JSON-RPC error to answer it with.
using ParsedMessage = Result<Message, ParseError>;

[[nodiscard]] ParsedMessage parse_message(std::string_view text);

std::string response(const nlohmann::json& id, const nlohmann::json& result);
std::string error_response(const nlohmann::json& id, int code, std::string_view message,
                           const nlohmann::json& data = nullptr);
std::string request(const nlohmann::json& id, std::string_view method,
                    const nlohmann::json& params);
std::string notification(std::string_view method, const nlohmann::json& params);

}  // namespace keel::mcp
