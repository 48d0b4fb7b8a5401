#include "mcp/mcp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/json.h"
#include "core/log.h"
#include "mcp/jsonrpc.h"

namespace keel::mcp {

bool is_supported_protocol(std::string_view v) { return v == "2025-11-25" || v == "2025-06-18" || v == "2025-03-26"; }

McpServer::McpServer(std::string name, std::string version, std::string instructions)
    : name_(std::move(name)), version_(std::move(version)), instructions_(std::move(instructions)) {}

namespace {

int rpc_code(const Status& s) {
  switch (s.code()) {
    case StatusCode::invalid_argument: return rpc_error::invalid_params;
    case StatusCode::not_found: return rpc_error::invalid_params;
    default: return rpc_error::internal_error;
  }
}

}  // namespace

Json McpServer::page(std::vector<Json> items, const Json& params, const char* key, Status* error) const {
  size_t start = 0;
  if (params.contains("cursor") && !params["cursor"].is_null()) {
    const Json& c = params["cursor"];
    std::string text = c.is_string() ? c.get<std::string>() : "";
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), start);
    if (!c.is_string() || ec != std::errc() || ptr != text.data() + text.size() || start > items.size()) {
      *error = Status::invalid_argument("invalid cursor: pass back the nextCursor of the previous page");
      return nullptr;
    }
  }
  Json out = {{key, Json::array()}};
  size_t end = std::min(items.size(), start + page_size_);
  for (size_t i = start; i < end; ++i) out[key].push_back(std::move(items[i]));
  if (end < items.size()) out["nextCursor"] = std::to_string(end);
  return out;
}

Result<Json> McpServer::dispatch(const std::string& method, const Json& params, Session& session, int* http_status) {
  if (method == "ping") return Json::object();
  if (method == "tools/list") {
    std::vector<Json> all;
    for (auto& p : tools_) {
      for (auto& t : p->list(session.principal)) all.push_back(std::move(t));
    }
    Status error;
    Json out = page(std::move(all), params, "tools", &error);
    if (!error.ok()) return error;
    return out;
  }
  if (method == "tools/call") {
    if (!params.contains("name") || !params["name"].is_string()) return Status::invalid_argument("tools/call needs a string \"name\"");
    Json arguments = params.value("arguments", Json::object());
    if (!arguments.is_object()) return Status::invalid_argument("\"arguments\" must be an object");
    const std::string name = params["name"].get<std::string>();
    for (auto& p : tools_) {
      auto r = p->call(session.principal, name, arguments);
      if (!r.ok() && r.status().code() == StatusCode::not_found) continue;
      if (!r.ok()) return r.status();
      if (r->forbidden) {
        *http_status = 403;
        return Status::permission_denied(r->forbidden_reason);
      }
      return r->result;
    }
    return Status::invalid_argument(fmt::format("Unknown tool: {}", name));
  }
  if (method == "resources/list") {
    std::vector<Json> all;
    for (auto& p : resources_) {
      KEEL_ASSIGN_OR_RETURN(auto items, p->list());
      for (auto& r : items) all.push_back(std::move(r));
    }
    Status error;
    Json out = page(std::move(all), params, "resources", &error);
    if (!error.ok()) return error;
    return out;
  }
  if (method == "resources/templates/list") return Json{{"resourceTemplates", Json::array()}};
  if (method == "resources/read") {
    if (!params.contains("uri") || !params["uri"].is_string()) return Status::invalid_argument("resources/read needs a string \"uri\"");
    const std::string uri = params["uri"].get<std::string>();
    for (auto& p : resources_) {
      auto r = p->read(uri);
      if (!r.ok() && r.status().code() == StatusCode::not_found) continue;
      return r;
    }
    return Status(StatusCode::not_found, fmt::format("Resource not found: {}", uri));
  }
  if (method == "prompts/list") {
    std::vector<Json> all;
    for (auto& p : prompts_) {
      for (auto& x : p->list()) all.push_back(std::move(x));
    }
    Status error;
    Json out = page(std::move(all), params, "prompts", &error);
    if (!error.ok()) return error;
    return out;
  }
  if (method == "prompts/get") {
    if (!params.contains("name") || !params["name"].is_string()) return Status::invalid_argument("prompts/get needs a string \"name\"");
    const std::string name = params["name"].get<std::string>();
    Json arguments = params.value("arguments", Json::object());
    if (!arguments.is_object()) return Status::invalid_argument("\"arguments\" must be an object");
    for (auto& p : prompts_) {
      auto r = p->get(name, arguments);
      if (!r.ok() && r.status().code() == StatusCode::not_found) continue;
      return r;
    }
    return Status::invalid_argument(fmt::format("Unknown prompt: {}", name));
  }
  if (method == "logging/setLevel") {
    static const std::vector<std::string> levels = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};
    const Json& level = params.value("level", Json());
    if (!level.is_string() || std::find(levels.begin(), levels.end(), level.get<std::string>()) == levels.end()) {
      return Status::invalid_argument("level must be one of debug, info, notice, warning, error, critical, alert, emergency");
    }
    return Json::object();
  }
  return Status::unimplemented(fmt::format("Method not found: {}", method));
}

ServerReply McpServer::handle(std::string_view text, Session& session) {
  Parsed p = parse_message(text);
  if (!p.message) return {error_response(p.error.id, p.error.code, p.error.message), 400};
  const Message& m = *p.message;
  if (m.kind == Message::Kind::response) return {std::nullopt, 202};  // we send no requests
  if (m.kind == Message::Kind::notification) {
    if (m.method == "notifications/initialized") session.ready = session.initialized;
    if (m.method == "notifications/cancelled") {
      // Requests are answered in order on this server; a cancelled one has either finished or
      // not started, and its response (if any) is simply ignored by the client.
      log_info("mcp: request {} cancelled by the client: {}", dump_json(m.params.value("requestId", Json())),
               m.params.value("reason", ""));
    }
    return {std::nullopt, 202};
  }
  if (m.method == "initialize") {
    if (session.initialized) {
      return {error_response(m.id, rpc_error::invalid_request, "the session is already initialized"), 400};
    }
    const Json& pv = m.params.value("protocolVersion", Json());
    if (!pv.is_string()) return {error_response(m.id, rpc_error::invalid_params, "initialize needs a \"protocolVersion\" string"), 200};
    std::string requested = pv.get<std::string>();
    session.protocol_version = is_supported_protocol(requested) ? requested : std::string(kLatestProtocol);
    session.client_info = m.params.value("clientInfo", Json::object());
    session.initialized = true;
    Json capabilities = Json::object();
    if (!tools_.empty()) capabilities["tools"] = {{"listChanged", false}};
    if (!resources_.empty()) capabilities["resources"] = {{"subscribe", false}, {"listChanged", false}};
    if (!prompts_.empty()) capabilities["prompts"] = {{"listChanged", false}};
    capabilities["logging"] = Json::object();
    Json result = {{"protocolVersion", session.protocol_version},
                   {"capabilities", capabilities},
                   {"serverInfo", {{"name", name_}, {"title", "Keel"}, {"version", version_}}}};
    if (!instructions_.empty()) result["instructions"] = instructions_;
    return {response(m.id, result), 200};
  }
  if (!session.initialized && m.method != "ping") {
    return {error_response(m.id, rpc_error::invalid_request, "the session is not initialized: send initialize first"), 400};
  }
  int http_status = 200;
  auto r = dispatch(m.method, m.params, session, &http_status);
  if (r.ok()) return {response(m.id, *r), 200};
  const Status& e = r.status();
  if (e.code() == StatusCode::unimplemented) return {error_response(m.id, rpc_error::method_not_found, e.message()), 200};
  if (e.code() == StatusCode::not_found && m.method == "resources/read") {
    return {error_response(m.id, rpc_error::resource_not_found, e.message(), {{"uri", m.params.value("uri", "")}}), 200};
  }
  if (e.code() == StatusCode::permission_denied) return {error_response(m.id, rpc_error::invalid_request, e.message()), http_status};
  return {error_response(m.id, rpc_code(e), e.message()), 200};
}

}  // namespace keel::mcp
