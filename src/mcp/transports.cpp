#include "mcp/transports.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <asio.hpp>
#include <deque>
#include <random>

#include "core/hash.h"
#include "core/log.h"
#include "mcp/jsonrpc.h"
#include "serve/http.h"

namespace keel::mcp {

using asio::ip::tcp;

// ---- stdio -------------------------------------------------------------------------------------

void serve_stdio(McpServer& server, const std::string& principal, std::istream& in, std::ostream& out) {
  Session session;
  session.id = "stdio";
  session.principal = principal;
  std::string line;
  for (;;) {
    line.clear();
    // Read one line, refusing (but skipping) lines over the message limit.
    bool too_long = false;
    int c;
    while ((c = in.get()) != EOF && c != '\n') {
      if (line.size() < kMaxMessageBytes + 1) {
        line.push_back(static_cast<char>(c));
      } else {
        too_long = true;
      }
    }
    if (c == EOF && line.empty()) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (too_long) {
      out << error_response(nullptr, rpc_error::invalid_request, fmt::format("the message exceeds {} bytes", kMaxMessageBytes)) << '\n';
      out.flush();
      continue;
    }
    ServerReply reply = server.handle(line, session);
    if (reply.body) {
      out << *reply.body << '\n';
      out.flush();
    }
    if (c == EOF) break;
  }
}

// ---- tokens ------------------------------------------------------------------------------------

Result<TokenFile> TokenFile::load(const std::string& path) {
  TokenFile t;
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root["principals"] || !root["principals"].IsSequence()) {
      return Status::invalid_argument(fmt::format("{}: expected a 'principals' list", path));
    }
    for (const auto& p : root["principals"]) {
      std::string id = p["id"].as<std::string>();
      for (auto h : p["tokens_sha256"].as<std::vector<std::string>>()) {
        for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (h.size() != 64 || h.find_first_not_of("0123456789abcdef") != std::string::npos) {
          return Status::invalid_argument(fmt::format("{}: principal {}: tokens_sha256 entries are 64 hex digits (the hash, never the token)", path, id));
        }
        t.by_hash_[h] = id;
      }
    }
  } catch (const YAML::BadFile&) {
    return Status::not_found(fmt::format("token file {} cannot be read", path));
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument(fmt::format("{}: line {}: {}", path, e.mark.line + 1, e.msg));
  }
  return t;
}

std::vector<std::string> TokenFile::principals() const {
  std::vector<std::string> out;
  for (const auto& [hash, id] : by_hash_) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

Result<std::string> TokenFile::principal(std::string_view authorization) const {
  if (authorization.substr(0, 7) != "Bearer " && authorization.substr(0, 7) != "bearer ") {
    return Status::unauthenticated("send 'Authorization: Bearer <token>'");
  }
  auto it = by_hash_.find(sha256_hex(authorization.substr(7)));
  if (it == by_hash_.end()) return Status::unauthenticated("the token is not valid");
  return it->second;
}

// ---- Streamable HTTP ---------------------------------------------------------------------------

namespace {

bool is_local_origin(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.substr(0, scheme.size()) != scheme) continue;
    std::string_view host = origin.substr(scheme.size());
    for (std::string_view local : {"localhost", "127.0.0.1", "[::1]"}) {
      if (host == local || (host.substr(0, local.size()) == local && host.size() > local.size() && host[local.size()] == ':')) return true;
    }
  }
  return false;
}

std::string new_session_id() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 16; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

}  // namespace

struct HttpTransport::Impl {
  McpServer& server;
  HttpOptions options;
  std::optional<TokenFile> tokens;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io};
  std::map<std::string, Session> sessions;
  std::map<std::string, std::chrono::steady_clock::time_point> last_used;
  // Sessions are bounded: idle ones expire, and past the cap the least recently used goes.
  static constexpr size_t kMaxSessions = 1024;
  static constexpr std::chrono::minutes kSessionIdle{60};

  Impl(McpServer& s, HttpOptions o) : server(s), options(std::move(o)) {}

  void expire_sessions() {
    auto now = std::chrono::steady_clock::now();
    for (auto it = last_used.begin(); it != last_used.end();) {
      if (now - it->second > kSessionIdle) {
        sessions.erase(it->first);
        it = last_used.erase(it);
      } else {
        ++it;
      }
    }
  }
  void drop_oldest_session() {
    auto oldest = std::min_element(last_used.begin(), last_used.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    if (oldest == last_used.end()) return;
    sessions.erase(oldest->first);
    last_used.erase(oldest);
  }

  std::string respond(const serve::HttpRequest& req);
  void accept();
};

namespace {

class McpConnection : public std::enable_shared_from_this<McpConnection> {
 public:
  McpConnection(tcp::socket socket, HttpTransport::Impl& impl) : socket_(std::move(socket)), impl_(impl) {
    serve::HttpLimits limits;
    limits.max_body_bytes = kMaxMessageBytes;
    parser_ = serve::RequestParser(limits);
  }
  void start() { read(); }

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buffer_), [self](std::error_code ec, size_t n) {
      if (ec) return;
      auto state = self->parser_.feed(std::string_view(self->buffer_.data(), n));
      self->drain(state);
    });
  }
  void drain(serve::RequestParser::State state) {
    std::string out;
    bool keep_alive = true;
    while (state == serve::RequestParser::State::request_ready) {
      serve::HttpRequest req = parser_.take();
      keep_alive = req.keep_alive();
      out += impl_.respond(req);
      state = parser_.poll();
    }
    if (state == serve::RequestParser::State::error) {
      const auto& e = parser_.error();
      out += serve::http_response(e.status, "application/json", error_response(nullptr, rpc_error::invalid_request, e.message), {}, false);
      keep_alive = false;
    }
    auto self = shared_from_this();
    if (out.empty()) {
      read();
      return;
    }
    auto data = std::make_shared<std::string>(std::move(out));
    asio::async_write(socket_, asio::buffer(*data), [self, data, keep_alive](std::error_code ec, size_t) {
      if (ec) return;
      if (keep_alive) {
        self->read();
      } else {
        std::error_code ignored;
        self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
      }
    });
  }

  tcp::socket socket_;
  HttpTransport::Impl& impl_;
  serve::RequestParser parser_;
  std::array<char, 16384> buffer_{};
};

std::string json_error(int http_status, int code, const std::string& message, std::vector<std::string> headers = {}) {
  return serve::http_response(http_status, "application/json", error_response(nullptr, code, message), headers);
}

}  // namespace

std::string HttpTransport::Impl::respond(const serve::HttpRequest& req) {
  if (req.path != "/mcp") return json_error(404, rpc_error::invalid_request, "not found: the MCP endpoint is /mcp");
  // Browsers: only allowed origins, with CORS headers so their pages can read the answers.
  std::vector<std::string> cors;
  if (auto origin = req.header("origin")) {
    bool allowed = is_local_origin(*origin) ||
                   std::find(options.allowed_origins.begin(), options.allowed_origins.end(), std::string(*origin)) !=
                       options.allowed_origins.end();
    if (!allowed) return json_error(403, rpc_error::invalid_request, fmt::format("origin {} is not allowed", *origin));
    cors = {"Access-Control-Allow-Origin: " + std::string(*origin), "Vary: Origin", "Access-Control-Expose-Headers: Mcp-Session-Id"};
    if (req.method == "OPTIONS") {
      cors.insert(cors.end(), {"Access-Control-Allow-Methods: POST, DELETE, OPTIONS",
                               "Access-Control-Allow-Headers: Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version",
                               "Access-Control-Max-Age: 600"});
      return serve::http_response(204, "text/plain", "", cors);
    }
  }
  auto with_cors = [&](std::vector<std::string> headers) {
    headers.insert(headers.end(), cors.begin(), cors.end());
    return headers;
  };
  std::string principal = options.default_principal;
  if (tokens) {
    auto auth = req.header("authorization");
    if (!auth) {
      return json_error(401, rpc_error::invalid_request, "send 'Authorization: Bearer <token>'",
                        with_cors({"WWW-Authenticate: Bearer realm=\"keel-mcp\""}));
    }
    auto p = tokens->principal(*auth);
    if (!p.ok()) {
      return json_error(401, rpc_error::invalid_request, p.status().message(),
                        with_cors({"WWW-Authenticate: Bearer realm=\"keel-mcp\", error=\"invalid_token\""}));
    }
    principal = *p;
  }
  if (auto accept = req.header("accept"); accept && req.method == "POST") {
    std::string a(*accept);
    if (a.find("application/json") == std::string::npos && a.find("*/*") == std::string::npos &&
        a.find("application/*") == std::string::npos) {
      return json_error(406, rpc_error::invalid_request, "this server answers with application/json: accept it", with_cors({}));
    }
  }
  expire_sessions();
  if (req.method == "GET") {
    return serve::http_response(405, "application/json",
                                error_response(nullptr, rpc_error::invalid_request, "this server sends no server-initiated stream"),
                                with_cors({"Allow: POST, DELETE"}));
  }
  auto session_header = req.header("mcp-session-id");
  if (req.method == "DELETE") {
    if (!session_header || !sessions.count(std::string(*session_header))) {
      return json_error(404, rpc_error::invalid_request, "unknown session");
    }
    sessions.erase(std::string(*session_header));
    last_used.erase(std::string(*session_header));
    return serve::http_response(204, "text/plain", "", with_cors({}));
  }
  if (req.method != "POST") return json_error(405, rpc_error::invalid_request, "use POST", {"Allow: POST, DELETE"});
  if (auto v = req.header("mcp-protocol-version"); v && !is_supported_protocol(*v)) {
    return json_error(400, rpc_error::invalid_request, fmt::format("unsupported MCP-Protocol-Version {}", *v));
  }
  auto parsed = parse_message(req.body);
  bool initialize = parsed.message && parsed.message->method == "initialize";
  Session* session = nullptr;
  Session fresh;
  std::vector<std::string> headers;
  if (initialize) {
    fresh.id = new_session_id();
    fresh.principal = principal;
    session = &fresh;
  } else if (!session_header) {
    if (!parsed.message) return json_error(400, parsed.error.code, parsed.error.message);
    return json_error(400, rpc_error::invalid_request, "Mcp-Session-Id is missing: send initialize first");
  } else {
    auto it = sessions.find(std::string(*session_header));
    // A session belongs to the principal that opened it.
    if (it == sessions.end() || it->second.principal != principal) return json_error(404, rpc_error::invalid_request, "unknown session");
    session = &it->second;
    last_used[it->first] = std::chrono::steady_clock::now();
  }
  ServerReply reply = server.handle(req.body, *session);
  if (initialize && reply.body && reply.body->find("\"result\"") != std::string::npos) {
    headers.push_back("Mcp-Session-Id: " + fresh.id);
    if (sessions.size() >= kMaxSessions) drop_oldest_session();
    sessions[fresh.id] = fresh;
    last_used[fresh.id] = std::chrono::steady_clock::now();
  }
  if (!reply.body) return serve::http_response(202, "text/plain", "", with_cors(headers));
  return serve::http_response(reply.http_status, "application/json", *reply.body, with_cors(headers));
}

void HttpTransport::Impl::accept() {
  acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<McpConnection>(std::move(socket), *this)->start();
    if (acceptor.is_open()) accept();
  });
}

Result<std::unique_ptr<HttpTransport>> HttpTransport::create(McpServer& server, const HttpOptions& options) {
  auto t = std::unique_ptr<HttpTransport>(new HttpTransport());
  t->impl_ = std::make_unique<Impl>(server, options);
  Impl& i = *t->impl_;
  if (!options.tokens_path.empty()) {
    KEEL_ASSIGN_OR_RETURN(auto tokens, TokenFile::load(options.tokens_path));
    i.tokens = std::move(tokens);
  }
  std::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return Status::invalid_argument(fmt::format("--http: '{}' is not an IP address", options.host));
  if (!address.is_loopback() && !i.tokens) {
    return Status::failed_precondition(fmt::format(
        "refusing to serve MCP on {} without --tokens: anyone who can reach it could call the tools", options.host));
  }
  tcp::endpoint endpoint(address, options.port);
  i.acceptor.open(endpoint.protocol(), ec);
  if (!ec) i.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(endpoint, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::unavailable(fmt::format("cannot listen on {}:{}: {}", options.host, options.port, ec.message()));
  return t;
}

HttpTransport::~HttpTransport() = default;

uint16_t HttpTransport::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpTransport::run() {
  Impl& i = *impl_;
  i.signals.add(SIGTERM);
  i.signals.add(SIGINT);
  i.signals.async_wait([&i](std::error_code ec, int) {
    if (!ec) i.io.stop();
  });
  i.accept();
  i.io.run();
}

void HttpTransport::stop() {
  asio::post(impl_->io, [i = impl_.get()] { i->io.stop(); });
}

}  // namespace keel::mcp
