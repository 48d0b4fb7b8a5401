#include "mcp/mcp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/json.h"
#include "core/log.h"
#include "mcp/jsonrpc.h"

namespace keel::mcp {

bool is_supported_protocol(std::string_view v) {
  return v == "2025-11-25" || v == "2025-06-18" || v == "2025-03-26";
}

McpServer::McpServer(std::string name, std::string version, std::string instructions)
    : name_(std::move(name)),
      version_(std::move(version)),
      instructions_(std::move(instructions)) {}

namespace {

int rpc_code(const Status& s) {
  switch (s.code()) {
    case StatusCode::invalid_argument:
      return rpc_error::invalid_params;
    case StatusCode::not_found:
      return rpc_error::invalid_params;
    default:
      return rpc_error::internal_error;
  }
}

// Typed reads of params fields. A field is absent, or present with the wanted type; anything
// else is invalid_argument naming the field (and becomes -32602).
enum class Want { string, object, id };

bool has_type(const Json& v, Want want) {
  switch (want) {
    case Want::string:
      return v.is_string();
    case Want::object:
      return v.is_object();
    case Want::id:
      return v.is_string() || v.is_number_integer();
  }
  return false;
}

std::string_view type_name(Want want) {
  switch (want) {
    case Want::string:
      return "a string";
    case Want::object:
      return "an object";
    case Want::id:
      return "a string or an integer";
  }
  return "";
}

//! The field, or nullptr when it is absent (and not required).
Result<const Json*> field(const Json& params, const std::string& key, Want want, bool required,
                          std::string_view method) {
  auto it = params.find(key);
  if (it == params.end()) {
    if (!required) return static_cast<const Json*>(nullptr);
    return Status::invalid_argument(
        fmt::format("{} needs \"{}\", {}", method, key, type_name(want)));
  }
  if (!has_type(*it, want))
    return Status::invalid_argument(
        fmt::format("{}: \"{}\" must be {}", method, key, type_name(want)));
  return &*it;
}

//! A required string field's value.
Result<std::string> string_field(const Json& params, const std::string& key,
                                 std::string_view method) {
  KEEL_ASSIGN_OR_RETURN(const Json* v, field(params, key, Want::string, true, method));
  return v->get<std::string>();
}

//! An optional "arguments" object ({} when absent).
Result<Json> arguments_field(const Json& params, std::string_view method) {
  KEEL_ASSIGN_OR_RETURN(const Json* v, field(params, "arguments", Want::object, false, method));
  return v ? *v : Json::object();
}

// Methods answered by providers: their work runs off the transport's I/O thread.
bool is_provider_method(std::string_view method) {
  return method == "tools/list" || method == "tools/call" || method == "resources/list" ||
         method == "resources/read" || method == "prompts/list" || method == "prompts/get";
}

ServerReply error_reply(const Json& id, int code, std::string_view message, int http_status) {
  return {error_response(id, code, message), http_status};
}

}  // namespace

Json McpServer::page(std::vector<Json> items, const Json& params, const char* key,
                     Status* error) const {
  size_t start = 0;
  if (auto c = params.find("cursor"); c != params.end() && !c->is_null()) {
    std::string text = c->is_string() ? c->get<std::string>() : "";
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), start);
    if (!c->is_string() || ec != std::errc() || ptr != text.data() + text.size() ||
        start > items.size()) {
      *error =
          Status::invalid_argument("invalid cursor: pass back the nextCursor of the previous page");
      return nullptr;
    }
  }
  Json out = {{key, Json::array()}};
  size_t end = std::min(items.size(), start + page_size_);
  for (size_t i = start; i < end; ++i) out[key].push_back(std::move(items[i]));
  if (end < items.size()) out["nextCursor"] = std::to_string(end);
  return out;
}

Result<Json> McpServer::dispatch(const std::string& method, const Json& params,
                                 const std::string& principal, int* http_status) {
  if (method == "tools/list") {
    std::vector<Json> all;
    for (auto& p : tools_) {
      for (auto& t : p->list(principal)) all.push_back(std::move(t));
    }
    Status error;
    Json out = page(std::move(all), params, "tools", &error);
    if (!error.ok()) return error;
    return out;
  }
  if (method == "tools/call") {
    KEEL_ASSIGN_OR_RETURN(std::string name, string_field(params, "name", method));
    KEEL_ASSIGN_OR_RETURN(Json arguments, arguments_field(params, method));
    for (auto& p : tools_) {
      auto r = p->call(principal, name, arguments);
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
  if (method == "resources/read") {
    KEEL_ASSIGN_OR_RETURN(std::string uri, string_field(params, "uri", method));
    // A provider's not_found may say why (e.g. the file left the documents folder).
    Status missing(StatusCode::not_found, fmt::format("Resource not found: {}", uri));
    for (auto& p : resources_) {
      auto r = p->read(uri);
      if (!r.ok() && r.status().code() == StatusCode::not_found) {
        missing = r.status();
        continue;
      }
      return r;
    }
    return missing;
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
    KEEL_ASSIGN_OR_RETURN(std::string name, string_field(params, "name", method));
    KEEL_ASSIGN_OR_RETURN(Json arguments, arguments_field(params, method));
    for (auto& p : prompts_) {
      auto r = p->get(name, arguments);
      if (!r.ok() && r.status().code() == StatusCode::not_found) continue;
      return r;
    }
    return Status::invalid_argument(fmt::format("Unknown prompt: {}", name));
  }
  return Status::unimplemented(fmt::format("Method not found: {}", method));
}

ServerReply McpServer::answer(const Json& id, const std::string& method, const Json& params,
                              const std::string& principal) {
  // A provider may throw (a bug, a library that reports with exceptions): the client gets an
  // internal error, the server goes on. The exception's text stays in the log.
  try {
    int http_status = 200;
    auto r = dispatch(method, params, principal, &http_status);
    if (r.ok()) return {response(id, *r), 200};
    const Status& e = r.status();
    if (e.code() == StatusCode::unimplemented)
      return error_reply(id, rpc_error::method_not_found, e.message(), 200);
    if (e.code() == StatusCode::not_found && method == "resources/read") {
      return {error_response(id, rpc_error::resource_not_found, e.message(),
                             {{"uri", params.value("uri", Json())}}),
              200};
    }
    if (e.code() == StatusCode::permission_denied)
      return error_reply(id, rpc_error::invalid_request, e.message(), http_status);
    return error_reply(id, rpc_code(e), e.message(), 200);
  } catch (const std::exception& e) {
    log_error("mcp: {} failed with an exception: {}", method, e.what());
  } catch (...) {
    log_error("mcp: {} failed with an unknown exception", method);
  }
  return error_reply(id, rpc_error::internal_error,
                     fmt::format("internal error while handling {}", method), 200);
}

namespace {

PreparedMessage answered(ServerReply r) {
  PreparedMessage p;
  p.reply = std::move(r);
  return p;
}

// Notifications are never answered over stdio; a malformed one is a 400 over HTTP.
PreparedMessage take_notification(const Message& m, Session& session) {
  const Json no_id = nullptr;
  auto refuse = [&](const Status& s) {
    return answered({error_response(no_id, rpc_error::invalid_params, s.message()), 400, true});
  };
  if (m.method == "notifications/initialized") session.ready = session.initialized;
  if (m.method == "notifications/cancelled") {
    auto request_id = field(m.params, "requestId", Want::id, false, m.method);
    if (!request_id.ok()) return refuse(request_id.status());
    auto reason = field(m.params, "reason", Want::string, false, m.method);
    if (!reason.ok()) return refuse(reason.status());
    // Requests already running finish; their responses are simply ignored by the client.
    log_info("mcp: request {} cancelled by the client{}{}",
             *request_id ? dump_json(**request_id) : "(none)", *reason ? ": " : "",
             *reason ? (*reason)->get<std::string>() : "");
  }
  return answered({std::nullopt, 202, true});
}

ServerReply set_log_level(const Message& m) {
  static const std::vector<std::string> levels = {"debug", "info",     "notice", "warning",
                                                  "error", "critical", "alert",  "emergency"};
  auto level = field(m.params, "level", Want::string, true, m.method);
  if (!level.ok() ||
      std::find(levels.begin(), levels.end(), (*level)->get<std::string>()) == levels.end()) {
    return error_reply(
        m.id, rpc_error::invalid_params,
        "level must be one of debug, info, notice, warning, error, critical, alert, emergency",
        200);
  }
  return {response(m.id, Json::object()), 200};
}

}  // namespace

ServerReply McpServer::initialize(const Message& m, Session& session) {
  if (session.initialized)
    return error_reply(m.id, rpc_error::invalid_request, "the session is already initialized", 400);
  auto pv = field(m.params, "protocolVersion", Want::string, true, m.method);
  if (!pv.ok()) return error_reply(m.id, rpc_error::invalid_params, pv.status().message(), 400);
  auto client_info = field(m.params, "clientInfo", Want::object, false, m.method);
  if (!client_info.ok())
    return error_reply(m.id, rpc_error::invalid_params, client_info.status().message(), 400);
  auto client_capabilities = field(m.params, "capabilities", Want::object, false, m.method);
  if (!client_capabilities.ok()) {
    return error_reply(m.id, rpc_error::invalid_params, client_capabilities.status().message(),
                       400);
  }
  std::string requested = (*pv)->get<std::string>();
  session.protocol_version =
      is_supported_protocol(requested) ? requested : std::string(kLatestProtocol);
  session.client_info = *client_info ? **client_info : Json::object();
  session.initialized = true;
  Json capabilities = Json::object();
  if (!tools_.empty()) capabilities["tools"] = {{"listChanged", false}};
  if (!resources_.empty())
    capabilities["resources"] = {{"subscribe", false}, {"listChanged", false}};
  if (!prompts_.empty()) capabilities["prompts"] = {{"listChanged", false}};
  capabilities["logging"] = Json::object();
  Json result = {{"protocolVersion", session.protocol_version},
                 {"capabilities", capabilities},
                 {"serverInfo", {{"name", name_}, {"title", "Keel"}, {"version", version_}}}};
  if (!instructions_.empty()) result["instructions"] = instructions_;
  return {response(m.id, result), 200};
}

std::optional<ServerReply> McpServer::answer_in_session(const Message& m, Session& session) {
  if (m.method == "initialize") return initialize(m, session);
  if (m.method == "ping") return ServerReply{response(m.id, Json::object()), 200};
  if (!session.initialized) {
    return error_reply(m.id, rpc_error::invalid_request,
                       "the session is not initialized: send initialize first", 400);
  }
  if (m.method == "resources/templates/list")
    return ServerReply{response(m.id, Json{{"resourceTemplates", Json::array()}}), 200};
  if (m.method == "logging/setLevel") return set_log_level(m);
  if (!is_provider_method(m.method)) {
    return error_reply(m.id, rpc_error::method_not_found,
                       fmt::format("Method not found: {}", m.method), 200);
  }
  return std::nullopt;
}

PreparedMessage McpServer::prepare(std::string_view text, Session& session) {
  return prepare(parse_message(text), session);
}

PreparedMessage McpServer::prepare(ParsedMessage parsed, Session& session) {
  if (!parsed.ok()) {
    const ParseError& e = parsed.error();
    return answered(error_reply(e.id, e.code, e.message, 400));
  }
  Message& m = *parsed;
  try {
    if (m.kind == Message::Kind::response)
      return answered({std::nullopt, 202, true});  // we send no requests
    if (m.kind == Message::Kind::notification) return take_notification(m, session);
    if (auto reply = answer_in_session(m, session)) return answered(std::move(*reply));
  } catch (const std::exception& e) {
    log_error("mcp: {} failed with an exception: {}", m.method, e.what());
    if (m.kind != Message::Kind::request) return answered({std::nullopt, 202, true});
    return answered(error_reply(m.id, rpc_error::internal_error,
                                fmt::format("internal error while handling {}", m.method), 200));
  }
  PreparedMessage p;
  p.lane =
      m.method == "tools/call" ? PreparedMessage::Lane::tool_call : PreparedMessage::Lane::quick;
  p.work = [this, id = std::move(m.id), method = std::move(m.method), params = std::move(m.params),
            principal = session.principal] { return answer(id, method, params, principal); };
  return p;
}

ServerReply McpServer::handle(std::string_view text, Session& session) {
  PreparedMessage p = prepare(text, session);
  if (p.reply) return std::move(*p.reply);
  return p.work();
}

}  // namespace keel::mcp
