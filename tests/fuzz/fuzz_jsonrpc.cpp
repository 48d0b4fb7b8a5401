// Fuzz target: MCP's JSON-RPC framing and the server's lifecycle and dispatch on hostile
// messages (before and after initialize), with tools, resources and prompts behind it.
//
// Two passes per input:
// - bytes: the input itself is a message (byte mutations of the seed corpus);
// - types: byte mutations rarely turn `"jsonrpc":"2.0"` into `"jsonrpc":2` while keeping the
//   JSON valid, so the input bytes are also read as choices: which well-formed message (one
//   per method, and the input itself when it is a JSON object), then which of its fields to
//   give a value of another JSON type (or to remove, or which key to add). A message once
//   aborted the server this way (`"jsonrpc":null`, a numeric cancellation `reason`).
// Every message must be handled without an exception, and every reply must be a JSON-RPC 2.0
// response: an id, and exactly one of result and error (with an integer code).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"

namespace {

using keel::Json;
using namespace keel::mcp;

class FuzzTools : public ToolProvider {
 public:
  std::vector<Json> list(const std::string&) override {
    return {{{"name", "echo"}, {"inputSchema", {{"type", "object"}}}}};
  }
  keel::Result<ToolCallOutcome> call(const std::string& principal, const std::string& name,
                                     const Json& args) override {
    if (name != "echo") return keel::Status::not_found("no such tool");
    return ToolCallOutcome{
        {{"content", {{{"type", "text"}, {"text", principal + keel::dump_json(args)}}}}}};
  }
};

class FuzzResources : public ResourceProvider {
 public:
  keel::Result<std::vector<Json>> list() override {
    return std::vector<Json>{{{"uri", "fuzz:a"}, {"name", "a"}}};
  }
  keel::Result<Json> read(const std::string& uri) override {
    if (uri != "fuzz:a") return keel::Status::not_found("no");
    return Json{{"contents", Json::array({{{"uri", uri}, {"text", "a"}}})}};
  }
};

class FuzzPrompts : public PromptProvider {
 public:
  std::vector<Json> list() override { return {{{"name", "p"}}}; }
  keel::Result<Json> get(const std::string& name, const Json& arguments) override {
    if (name != "p") return keel::Status::not_found("no");
    return Json{{"messages", Json::array()}, {"description", keel::dump_json(arguments)}};
  }
};

McpServer& server() {
  static McpServer* s = [] {
    auto* created = new McpServer("fuzz", "0", "");
    created->add_tools(std::make_shared<FuzzTools>());
    created->add_resources(std::make_shared<FuzzResources>());
    created->add_prompts(std::make_shared<FuzzPrompts>());
    created->set_page_size(1);
    return created;
  }();
  return *s;
}

struct Choices {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  uint8_t byte() {
    return at < size ? data[size - 1 - at++] : 0;
  }  // from the end: the head is the message
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | byte();
    return v;
  }
};

Json value_of_some_type(Choices& in, int depth) {
  switch (in.byte() % 14) {
    case 0:
      return nullptr;
    case 1:
      return static_cast<bool>(in.byte() & 1);
    case 2:
      return static_cast<int64_t>(in.u64());
    case 3:
      return in.u64();
    case 4:
      return static_cast<int64_t>(static_cast<int8_t>(in.byte()));
    case 5:
      return static_cast<double>(static_cast<int8_t>(in.byte())) / 3.0;
    case 6:
      return std::string();
    case 7: {
      static const char* kStrings[] = {"2.0", "initialize", "tools/call", "echo",  "fuzz:a",
                                       "p",   "0",          "99",         "debug", "2025-11-25"};
      return std::string(kStrings[in.byte() % 10]);
    }
    case 8:
      return std::string(static_cast<size_t>(in.byte() % 4), static_cast<char>(in.byte()));
    case 9: {
      Json a = Json::array();
      if (depth < 3) {
        for (int n = in.byte() % 3; n > 0; --n) a.push_back(value_of_some_type(in, depth + 1));
      }
      return a;
    }
    case 10: {
      Json o = Json::object();
      if (depth < 3) {
        for (int n = in.byte() % 3; n > 0; --n) {
          static const char* kKeys[] = {"name",      "arguments", "uri", "cursor",
                                        "requestId", "reason",    "x"};
          o[kKeys[in.byte() % 7]] = value_of_some_type(in, depth + 1);
        }
      }
      return o;
    }
    case 11:
      return 1e308 * (in.byte() & 1 ? 10 : -10);
    case 12:
      return Json::array({"2.0"});
    default:
      return Json::object();
  }
}

//! Well-formed messages, one per method and kind; the type pass mutates their fields.
const std::vector<Json>& templates() {
  static const std::vector<Json> all = [] {
    std::vector<Json> t;
    auto req = [](Json id, const char* method, Json params) {
      return Json{{"jsonrpc", "2.0"},
                  {"id", std::move(id)},
                  {"method", method},
                  {"params", std::move(params)}};
    };
    t.push_back(req(1, "initialize",
                    {{"protocolVersion", "2025-11-25"},
                     {"capabilities", Json::object()},
                     {"clientInfo", {{"name", "x"}, {"version", "1"}}}}));
    t.push_back(req("a", "ping", Json::object()));
    t.push_back(req(2, "tools/list", {{"cursor", "0"}}));
    t.push_back(req(3, "tools/call", {{"name", "echo"}, {"arguments", {{"a", 1}}}}));
    t.push_back(req(4, "resources/list", {{"cursor", "1"}}));
    t.push_back(req(5, "resources/read", {{"uri", "fuzz:a"}}));
    t.push_back(req(6, "resources/templates/list", Json::object()));
    t.push_back(req(7, "prompts/list", Json::object()));
    t.push_back(
        req(8, "prompts/get", {{"name", "p"}, {"arguments", {{"question", "q"}, {"k", "2"}}}}));
    t.push_back(req(9, "logging/setLevel", {{"level", "debug"}}));
    t.push_back(Json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    t.push_back(Json{{"jsonrpc", "2.0"},
                     {"method", "notifications/cancelled"},
                     {"params", {{"requestId", 3}, {"reason", "x"}}}});
    t.push_back(Json{{"jsonrpc", "2.0"}, {"id", 10}, {"result", Json::object()}});
    t.push_back(Json{{"jsonrpc", "2.0"}, {"id", 11}, {"error", {{"code", -1}, {"message", "m"}}}});
    return t;
  }();
  return all;
}

//! JSON pointers of every value in `j` (the root's members and below), at most `limit`.
void pointers(const Json& j, const std::string& at, std::vector<std::string>& out, size_t limit) {
  if (out.size() >= limit) return;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      std::string escaped;
      for (char c : key) escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
      std::string here = at + "/" + escaped;
      out.push_back(here);
      pointers(value, here, out, limit);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string here = at + "/" + std::to_string(i);
      out.push_back(here);
      pointers(j[i], here, out, limit);
    }
  }
}

[[noreturn]] void broken(const std::string& what, std::string_view message,
                         const std::string& reply) {
  std::fprintf(stderr, "fuzz_jsonrpc: %s\nmessage: %.*s\nreply: %s\n", what.c_str(),
               static_cast<int>(message.size()), message.data(), reply.c_str());
  std::abort();
}

void check_reply(std::string_view message, const ServerReply& reply) {
  if (!reply.body) return;
  auto j = keel::parse_json(*reply.body);
  if (!j.ok() || !j->is_object()) broken("the reply is not a JSON object", message, *reply.body);
  if (j->value("jsonrpc", Json()) != "2.0" || !j->contains("id"))
    broken("the reply is not JSON-RPC 2.0", message, *reply.body);
  const bool result = j->contains("result"), error = j->contains("error");
  if (result == error)
    broken("the reply needs exactly one of result and error", message, *reply.body);
  if (error &&
      (!(*j)["error"].is_object() || !(*j)["error"].value("code", Json()).is_number_integer())) {
    broken("the error has no integer code", message, *reply.body);
  }
}

void handle_everywhere(std::string_view message) {
  Session fresh;
  check_reply(message, server().handle(message, fresh));
  Session ready;
  ready.principal = "fuzz";
  (void)server().handle(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})",
      ready);
  check_reply(message, server().handle(message, ready));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_message(text);
  handle_everywhere(text);

  // The type pass: the input as a message when it is one, else a template.
  Choices choices{data, size};
  Json message;
  if (auto parsed = keel::parse_json(text); parsed.ok() && parsed->is_object() && size <= 4096) {
    message = std::move(*parsed);
  } else {
    message = templates()[choices.byte() % templates().size()];
  }
  for (int edit = 0, edits = 1 + choices.byte() % 3; edit < edits; ++edit) {
    std::vector<std::string> at;
    pointers(message, "", at, 64);
    const uint8_t what = choices.byte();
    if (at.empty() || what % 8 == 0) {
      static const char* kKeys[] = {"jsonrpc", "id", "method", "params", "result", "error"};
      message[kKeys[choices.byte() % 6]] = value_of_some_type(choices, 0);
      continue;
    }
    Json::json_pointer pointer(at[choices.byte() % at.size()]);
    if (what % 8 == 1) {
      Json& parent = message.at(pointer.parent_pointer());
      if (parent.is_object())
        parent.erase(pointer.back());
      else if (parent.is_array() && !parent.empty())
        parent.erase(parent.size() - 1);
    } else {
      message.at(pointer) = value_of_some_type(choices, 0);
    }
  }
  const std::string mutated = keel::dump_json(message);
  handle_everywhere(mutated);
  return 0;
}
