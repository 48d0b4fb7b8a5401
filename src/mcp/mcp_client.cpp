#include "mcp/mcp_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

#include "net/http_client.h"
#include "core/json.h"
#include "core/json_schema.h"
#include "core/log.h"
#include "core/version.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"

extern char** environ;

namespace keel::mcp {

struct McpClient::Transport {
  virtual ~Transport() = default;
  //! Sends one request and returns the response with this id.
  virtual Result<Json> exchange(const Json& id, const std::string& message) = 0;
  virtual Status send_notification(const std::string& message) = 0;
};

namespace {

Result<Json> unwrap(const Json& response) {
  if (response.contains("error")) {
    const Json& e = response["error"];
    return Status::failed_precondition(fmt::format("the MCP server answered error {}: {}", e.value("code", 0), e.value("message", "")));
  }
  return response.value("result", Json::object());
}

class StdioTransport : public McpClient::Transport {
 public:
  static Result<std::unique_ptr<StdioTransport>> spawn(const std::string& command, int64_t timeout_ms) {
    std::vector<std::string> argv;
    std::istringstream words(command);
    for (std::string w; words >> w;) argv.push_back(w);
    if (argv.empty()) return Status::invalid_argument("stdio: needs a command");
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) return Status::internal("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(to_child[0]);
    close(from_child[1]);
    if (rc != 0) {
      close(to_child[1]);
      close(from_child[0]);
      return Status::unavailable(fmt::format("cannot start the MCP server '{}': {}", argv[0], std::strerror(rc)));
    }
    auto t = std::make_unique<StdioTransport>();
    t->pid_ = pid;
    t->in_ = to_child[1];
    t->out_ = from_child[0];
    t->timeout_ms_ = timeout_ms;
    return t;
  }
  ~StdioTransport() override {
    if (in_ >= 0) close(in_);  // the server sees end of input and exits
    if (pid_ > 0) {
      int status = 0;
      for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i) usleep(20000);
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGTERM);
        waitpid(pid_, &status, 0);
      }
    }
    if (out_ >= 0) close(out_);
  }

  Status send_notification(const std::string& message) override { return write_line(message); }

  Result<Json> exchange(const Json& id, const std::string& message) override {
    KEEL_RETURN_IF_ERROR(write_line(message));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(std::string line, read_line(deadline));
      auto parsed = parse_message(line);
      if (!parsed.ok()) continue;  // not for us
      if (parsed->kind == Message::Kind::response && parsed->id == id) {
        Json r = {{"id", id}};
        if (!parsed->error.is_null()) r["error"] = parsed->error;
        else r["result"] = parsed->result;
        return r;
      }
      if (parsed->kind == Message::Kind::request) {
        // We offer no client features (sampling, roots, elicitation).
        (void)write_line(error_response(parsed->id, rpc_error::method_not_found, "this client offers no features"));
      }
    }
  }

 private:
  Status write_line(const std::string& message) {
    std::string line = message + "\n";
    for (size_t done = 0; done < line.size();) {
      ssize_t n = write(in_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::unavailable("the MCP server's stdin is closed (it exited)");
      done += static_cast<size_t>(n);
    }
    return Status();
  }
  Result<std::string> read_line(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (buffer_.size() > kMaxMessageBytes) return Status::resource_exhausted("the MCP server sent an oversized message");
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return Status::deadline_exceeded(fmt::format("the MCP server did not answer within {} ms", timeout_ms_));
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[65536];
      ssize_t n = read(out_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::unavailable("the MCP server closed its output (it exited)");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  int64_t timeout_ms_ = 30000;
  std::string buffer_;
};

class HttpTransport : public McpClient::Transport {
 public:
  HttpTransport(std::string url, std::string token, int64_t timeout_ms)
      : url_(std::move(url)), token_(std::move(token)), timeout_ms_(timeout_ms) {}

  Status send_notification(const std::string& message) override {
    auto r = post(message);
    if (!r.ok()) return r.status();
    if (r->status >= 400) return Status::failed_precondition(fmt::format("the MCP server answered HTTP {}", r->status));
    return Status();
  }

  Result<Json> exchange(const Json& id, const std::string& message) override {
    KEEL_ASSIGN_OR_RETURN(net::HttpClientResponse r, post(message));
    if (r.status == 401 || r.status == 403) {
      return Status::permission_denied(fmt::format("the MCP server at {} answered HTTP {}", url_, r.status));
    }
    if (r.status == 404 && !session_.empty()) return Status::unavailable("the MCP server forgot the session (it restarted)");
    if (r.status >= 500) return Status::unavailable(fmt::format("the MCP server at {} answered HTTP {}", url_, r.status));
    if (auto s = r.header("mcp-session-id"); !s.empty()) session_ = s;
    std::vector<std::string> messages;
    if (r.header("content-type").find("text/event-stream") != std::string::npos) {
      std::string data;
      std::istringstream lines(r.body);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.rfind("data:", 0) == 0) {
          data += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
        } else if (line.empty() && !data.empty()) {
          messages.push_back(std::move(data));
          data.clear();
        }
      }
      if (!data.empty()) messages.push_back(std::move(data));
    } else {
      messages.push_back(r.body);
    }
    for (const auto& m : messages) {
      auto parsed = parse_json(m);
      if (parsed.ok() && parsed->is_object() && parsed->value("id", Json()) == id) return *parsed;
    }
    return Status::data_loss(fmt::format("the MCP server at {} sent no response to request {} (HTTP {})", url_, dump_json(id), r.status));
  }

  void set_protocol(std::string v) { protocol_ = std::move(v); }

 private:
  Result<net::HttpClientResponse> post(const std::string& message) {
    net::HttpClientRequest req;
    req.method = "POST";
    req.url = url_;
    req.body = message;
    req.timeout_ms = timeout_ms_;
    req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}};
    if (!token_.empty()) req.headers.emplace_back("Authorization", "Bearer " + token_);
    if (!session_.empty()) req.headers.emplace_back("Mcp-Session-Id", session_);
    if (!protocol_.empty()) req.headers.emplace_back("MCP-Protocol-Version", protocol_);
    return net::http_fetch(req);
  }

  std::string url_, token_, session_, protocol_;
  int64_t timeout_ms_;
};

// A tool of an outside MCP server, with the effect class the spec gives it.
class RemoteTool : public agent::Tool {
 public:
  RemoteTool(std::shared_ptr<McpClient> client, const Json& tool, const contract::Tool& declared) : client_(std::move(client)) {
    def_.name = declared.name;
    def_.description = tool.value("description", "");
    def_.effect = declared.effect;
    def_.system = client_->url();
    def_.timeout_ms = declared.timeout_ms > 0 ? declared.timeout_ms : 30000;
    Json input = tool.value("inputSchema", Json{{"type", "object"}});
    // Schemas beyond what Keel checks are passed along but not enforced here (the server
    // still validates): Keel then only checks that the arguments are an object.
    def_.input_schema = check_schema(input).ok() ? input : Json{{"type", "object"}};
    Json output = tool.value("outputSchema", Json::object());
    // A Keel server wraps results as {"status": "done", "result": ...}; call() unwraps them, so
    // the result's own schema is the one to check.
    if (output.contains("properties") && output["properties"].contains("result") && output["properties"].contains("status")) {
      output = output["properties"]["result"];
    }
    def_.output_schema = check_schema(output).ok() ? output : Json::object();
    takes_key_ = input.contains("properties") && input["properties"].contains("idempotency_key");
    if (takes_key_) {
      // The key is ours to supply.
      def_.input_schema["properties"].erase("idempotency_key");
      if (def_.input_schema.contains("required")) {
        Json req = Json::array();
        for (const auto& r : def_.input_schema["required"]) {
          if (r != "idempotency_key") req.push_back(r);
        }
        def_.input_schema["required"] = req;
      }
    }
    // A server that takes an idempotency key applies it once (that is what the argument means).
    def_.deduplicates_by_key = takes_key_;
  }
  const agent::ToolDefinition& definition() const override { return def_; }

  Result<Json> call(const Json& args, const agent::ToolCallContext& ctx) override {
    Json arguments = args;
    if (takes_key_ && !ctx.idempotency_key.empty()) arguments["idempotency_key"] = ctx.idempotency_key;
    auto r = client_->request("tools/call", {{"name", def_.name}, {"arguments", arguments}});
    if (!r.ok()) {
      const Status& e = r.status();
      bool never_sent = e.code() == StatusCode::unavailable && e.message().find("cannot connect") != std::string::npos;
      if (is_write() && !never_sent && e.code() != StatusCode::permission_denied) {
        return Status::deadline_exceeded(fmt::format("the outcome of {} at {} is unknown: {}", def_.name, client_->url(), e.message()));
      }
      return e.code() == StatusCode::permission_denied ? e : Status::unavailable(e.message());
    }
    std::string text;
    for (const auto& c : r->value("content", Json::array())) {
      if (c.value("type", "") == "text") text += c.value("text", "");
    }
    if (r->value("isError", false)) {
      return Status::failed_precondition(fmt::format("{} at {} failed: {}", def_.name, client_->url(), text));
    }
    Json structured = r->value("structuredContent", Json());
    // A Keel server wraps results ({"status": "done", "result": ...}) and may hold them for
    // its own approval.
    if (structured.is_object() && structured.value("status", "") == "pending_approval") {
      return Status::failed_precondition(fmt::format("{} waits for an approval at {}: {}", def_.name, client_->url(), text));
    }
    if (structured.is_object() && structured.value("status", "") == "done" && structured.contains("result")) return structured["result"];
    if (structured.is_object()) return structured;
    return Json{{"text", text}};
  }

 private:
  std::shared_ptr<McpClient> client_;
  agent::ToolDefinition def_;
  bool takes_key_ = false;
};

}  // namespace

Result<std::unique_ptr<McpClient>> McpClient::connect(const std::string& url, const std::string& bearer_token, int64_t timeout_ms) {
  auto c = std::unique_ptr<McpClient>(new McpClient());
  c->url_ = url;
  HttpTransport* http = nullptr;
  if (url.rfind("stdio:", 0) == 0) {
    KEEL_ASSIGN_OR_RETURN(auto t, StdioTransport::spawn(url.substr(6), timeout_ms));
    c->transport_ = std::move(t);
  } else if (url.rfind("http://", 0) == 0) {
    auto t = std::make_unique<HttpTransport>(url, bearer_token, timeout_ms);
    http = t.get();
    c->transport_ = std::move(t);
  } else {
    return Status::invalid_argument(fmt::format("MCP server '{}': use http://host:port/mcp or stdio:<command>", url));
  }
  KEEL_ASSIGN_OR_RETURN(Json init, c->request("initialize", {{"protocolVersion", std::string(kLatestProtocol)},
                                                             {"capabilities", Json::object()},
                                                             {"clientInfo", {{"name", "keel"}, {"version", std::string(keel_version())}}}}));
  std::string version = init.value("protocolVersion", "");
  if (!is_supported_protocol(version)) {
    return Status::failed_precondition(fmt::format("the MCP server at {} speaks protocol {}, which Keel does not", url, version));
  }
  if (http) http->set_protocol(version);
  c->server_info_ = init.value("serverInfo", Json::object());
  KEEL_RETURN_IF_ERROR(c->transport_->send_notification(notification("notifications/initialized", Json::object())));
  return c;
}

McpClient::~McpClient() = default;

Result<Json> McpClient::request(const std::string& method, const Json& params) {
  std::lock_guard lock(mutex_);
  Json id = next_id_++;
  KEEL_ASSIGN_OR_RETURN(Json response, transport_->exchange(id, mcp::request(id, method, params)));
  return unwrap(response);
}

Result<std::vector<Json>> McpClient::list_tools() {
  std::vector<Json> out;
  Json params = Json::object();
  for (int page = 0; page < 1000; ++page) {
    KEEL_ASSIGN_OR_RETURN(Json r, request("tools/list", params));
    for (const auto& t : r.value("tools", Json::array())) out.push_back(t);
    if (!r.contains("nextCursor") || !r["nextCursor"].is_string()) return out;
    params["cursor"] = r["nextCursor"];
  }
  return Status::data_loss("the MCP server's tool list does not end");
}

Result<std::vector<std::shared_ptr<agent::Tool>>> connect_mcp_tools(const contract::Spec& spec) {
  std::vector<std::shared_ptr<agent::Tool>> out;
  for (const auto& c : spec.components) {
    if (c.kind != contract::ComponentKind::mcp_server) continue;
    if (c.url.empty()) return Status::invalid_argument(fmt::format("component {}: an mcp-server needs a url", c.id));
    // A token for this server only, from the environment: KEEL_MCP_TOKEN_<ID>.
    std::string env = "KEEL_MCP_TOKEN_";
    for (char ch : c.id) env += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const char* token = std::getenv(env.c_str());
    auto client = McpClient::connect(c.url, token ? token : "");
    if (!client.ok()) return client.status().with_context(fmt::format("component {}", c.id));
    std::shared_ptr<McpClient> shared = std::move(*client);
    KEEL_ASSIGN_OR_RETURN(auto tools, shared->list_tools());
    for (const auto& declared : spec.authority.tools) {
      for (const auto& t : tools) {
        if (t.value("name", "") == declared.name) out.push_back(std::make_shared<RemoteTool>(shared, t, declared));
      }
    }
    log_info("mcp: {} offers {} tool(s); the spec uses {}", c.url, tools.size(), out.size());
  }
  return out;
}

}  // namespace keel::mcp
