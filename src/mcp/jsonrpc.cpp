#include "mcp/jsonrpc.h"

#include <fmt/format.h>

#include "core/json.h"

namespace keel::mcp {

ParsedMessage parse_message(std::string_view text) {
  if (text.size() > kMaxMessageBytes) {
    return ParseError{
        rpc_error::invalid_request,
        fmt::format("the message is {} bytes; the limit is {}", text.size(), kMaxMessageBytes),
        nullptr};
  }
  auto j = parse_json(text, 64);
  if (!j.ok()) {
    return ParseError{rpc_error::parse_error, "parse error: " + j.status().message(), nullptr};
  }
  if (j->is_array()) {
    return ParseError{rpc_error::invalid_request,
                 "batches are not supported (MCP sends one message at a time)", nullptr};
  }
  if (!j->is_object()) {
    return ParseError{rpc_error::invalid_request, "a JSON-RPC message is an object", nullptr};
  }
  Json id = nullptr;
  if (auto it = j->find("id"); it != j->end()) {
    if (!it->is_string() && !it->is_number_integer()) {
      return ParseError{rpc_error::invalid_request, "the id must be a string or an integer", nullptr};
    }
    id = *it;
  }
  // Every field is read with its type checked: Json::value() would throw on a "jsonrpc" of
  // another type (2, null), and an exception here used to end the server.
  auto version = j->find("jsonrpc");
  if (version == j->end() || !version->is_string() ||
      version->get_ref<const std::string&>() != "2.0") {
    return ParseError{rpc_error::invalid_request, "\"jsonrpc\" must be \"2.0\"", id};
  }
  Message m;
  m.id = id;
  if (auto method = j->find("method"); method != j->end()) {
    if (!method->is_string() || method->get_ref<const std::string&>().empty()) {
      return ParseError{rpc_error::invalid_request, "\"method\" must be a non-empty string", id};
    }
    m.method = method->get<std::string>();
    m.kind = id.is_null() ? Message::Kind::notification : Message::Kind::request;
    if (auto params = j->find("params"); params != j->end()) {
      if (!params->is_object()) {
        return ParseError{rpc_error::invalid_request, "\"params\" must be an object", id};
      }
      m.params = *params;
    }
  } else if (j->contains("result") || j->contains("error")) {
    if (id.is_null()) {
      return ParseError{rpc_error::invalid_request, "a response needs an id", nullptr};
    }
    m.kind = Message::Kind::response;
    if (auto result = j->find("result"); result != j->end()) m.result = *result;
    if (auto error = j->find("error"); error != j->end()) m.error = *error;
  } else {
    return ParseError{rpc_error::invalid_request,
                 "a message needs a \"method\" (request) or a \"result\"/\"error\" (response)", id};
  }
  return m;
}

std::string response(const Json& id, const Json& result) {
  return dump_json(Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}

std::string error_response(const Json& id, int code, std::string_view message, const Json& data) {
  Json e = {{"code", code}, {"message", std::string(message)}};
  if (!data.is_null()) e["data"] = data;
  return dump_json(Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", e}});
}

std::string request(const Json& id, std::string_view method, const Json& params) {
  return dump_json(
      Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}, {"params", params}});
}

std::string notification(std::string_view method, const Json& params) {
  return dump_json(Json{{"jsonrpc", "2.0"}, {"method", std::string(method)}, {"params", params}});
}

}  // namespace keel::mcp
