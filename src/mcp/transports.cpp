#include "mcp/transports.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <mutex>
#include <random>

#include "core/hash.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "core/yaml_reader.h"
#include "mcp/jsonrpc.h"
#include "net/http_connection.h"
#include "net/http_response.h"

namespace keel::mcp {

using asio::ip::tcp;

namespace {

constexpr uint64_t kMaxTokenFileBytes = 4 << 20;

}  // namespace

// ---- stdio -------------------------------------------------------------------------------------

namespace {

//! Runs a request's work; never throws (a throw would end a worker thread, and the process).
ServerReply run_work(const std::function<ServerReply()>& work) {
  try {
    return work();
  } catch (const std::exception& e) {
    log_error("mcp: a request failed with an exception: {}", e.what());
  } catch (...) {
    log_error("mcp: a request failed with an unknown exception");
  }
  return {error_response(nullptr, rpc_error::internal_error, "internal error"), 500};
}

}  // namespace

void serve_stdio(McpServer& server, const std::string& principal, std::istream& in,
                 std::ostream& out, const WorkerOptions& workers) {
  Session session;
  session.id = "stdio";
  session.principal = principal;
  // Replies come from this thread and from workers: one line at a time.
  std::mutex out_mutex;
  auto write_line = [&out, &out_mutex](const std::string& line) {
    std::lock_guard lock(out_mutex);
    out << line << '\n';
    out.flush();
  };
  // Destroyed before write_line: the pools finish every queued request first.
  ThreadPool tool_calls(std::max<size_t>(1, workers.tool_call_threads));
  ThreadPool quick(std::max<size_t>(1, workers.quick_threads));
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
      write_line(error_response(nullptr, rpc_error::invalid_request,
                                fmt::format("the message exceeds {} bytes", kMaxMessageBytes)));
      continue;
    }
    PreparedMessage prepared = server.prepare(line, session);
    if (prepared.reply) {
      if (prepared.reply->body && !prepared.reply->to_notification)
        write_line(*prepared.reply->body);
    } else {
      ThreadPool& pool = prepared.lane == PreparedMessage::Lane::tool_call ? tool_calls : quick;
      (void)pool.submit([&write_line, work = std::move(prepared.work)] {
        ServerReply reply = run_work(work);
        if (reply.body && !reply.to_notification) write_line(*reply.body);
      });
    }
    if (c == EOF) break;
  }
}

// ---- tokens ------------------------------------------------------------------------------------

Result<TokenFile> TokenFile::load(const std::string& path) {
  auto root = load_yaml_file(path, kMaxTokenFileBytes);
  if (!root.ok()) {
    if (root.status().code() == StatusCode::not_found)
      return Status::not_found(fmt::format("token file {} cannot be read", path));
    return root.status();
  }
  TokenFile t;
  YamlReader r;
  auto top = r.map(*root, "", 1);
  if (!top.valid()) r.errors.push_back({"", 1, "expected a mapping with a 'principals' list"});
  r.list(top.require("principals"), "principals", [&](const YAML::Node& node, const std::string& p) {
    auto principal = r.item(node, p);
    if (!principal.valid()) return;
    auto id = r.identifier(principal.require("id"), p + ".id");
    r.list(principal.require("tokens_sha256"), p + ".tokens_sha256",
           [&](const YAML::Node& n, const std::string& q) {
             if (auto h = r.sha256_hex(n, q); h && id) t.by_hash_[*h] = *id;
           });
    principal.finish();
  });
  top.finish();
  KEEL_RETURN_IF_ERROR(r.status(path));
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
      if (host == local || (host.substr(0, local.size()) == local && host.size() > local.size() &&
                            host[local.size()] == ':'))
        return true;
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
  //! What respond() makes of a request: a complete HTTP response, or work for a worker whose
  //! ServerReply finish() turns into one.
  struct Step {
    std::string response;
    std::function<ServerReply()> work;
    PreparedMessage::Lane lane = PreparedMessage::Lane::quick;
    std::vector<std::string> headers;  //!< for finish()
  };

  McpServer& server;
  HttpOptions options;
  const Clock& clock;
  std::optional<TokenFile> tokens;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io};
  // Sessions are read and written on the I/O thread only; the workers get copies of what
  // they need (the principal), never a Session.
  std::map<std::string, Session> sessions;
  std::map<std::string, int64_t> last_used_ns;
  // Declared last, destroyed first: queued work finishes (and posts its replies into a live
  // io_context) before anything else goes.
  ThreadPool tool_calls;
  ThreadPool quick;

  Impl(McpServer& s, HttpOptions o)
      : server(s),
        options(std::move(o)),
        clock(options.clock ? *options.clock : system_clock()),
        tool_calls(std::max<size_t>(1, options.workers.tool_call_threads)),
        quick(std::max<size_t>(1, options.workers.quick_threads)) {}

  ThreadPool& pool(PreparedMessage::Lane lane) {
    return lane == PreparedMessage::Lane::tool_call ? tool_calls : quick;
  }

  // By value: callers pass the id held by the very session this destroys.
  void end_session(std::string id) {
    sessions.erase(id);
    last_used_ns.erase(id);
  }
  void expire_sessions() {
    const int64_t now = clock.now_ns();
    const int64_t idle_ns = options.session_idle_ms * 1'000'000;
    for (auto it = last_used_ns.begin(); it != last_used_ns.end();) {
      if (now - it->second > idle_ns) {
        sessions.erase(it->first);
        it = last_used_ns.erase(it);
      } else {
        ++it;
      }
    }
  }
  //! Makes room for one more session of `principal`: ends its own least recently used one when
  //! it is at its cap (or when all sessions together are at theirs), never anyone else's.
  Status admit_session(const std::string& principal) {
    expire_sessions();
    size_t own = 0;
    const std::string* oldest = nullptr;
    int64_t oldest_ns = 0;
    for (const auto& [id, session] : sessions) {
      if (session.principal != principal) continue;
      ++own;
      int64_t used = last_used_ns[id];
      if (!oldest || used < oldest_ns) {
        oldest = &id;
        oldest_ns = used;
      }
    }
    const bool principal_full = own >= std::max<size_t>(1, options.max_sessions_per_principal);
    const bool all_full = sessions.size() >= options.max_sessions;
    if (!principal_full && !all_full) return Status();
    if (oldest) {
      end_session(*oldest);
      return Status();
    }
    return Status::resource_exhausted(fmt::format(
        "the server holds its limit of {} sessions: end unused sessions (DELETE) or retry later",
        options.max_sessions));
  }

  Step respond(const net::HttpRequest& req);
  std::optional<std::string> check_origin(const net::HttpRequest& req,
                                          std::vector<std::string>* cors);
  std::optional<std::string> authenticate(const net::HttpRequest& req,
                                          const std::vector<std::string>& cors,
                                          std::string* principal);
  Session* own_session(const net::HttpRequest& req, const std::string& principal);
  Step initialize(ParsedMessage parsed, const std::string& principal,
                  const std::vector<std::string>& cors);
  Step in_session(const net::HttpRequest& req, ParsedMessage parsed, const std::string& principal,
                  const std::vector<std::string>& cors);
  void answer(const std::shared_ptr<net::HttpConnection>& c, const net::HttpRequest& req);
  void start_connection(tcp::socket socket);
  static std::string finish(const ServerReply& reply, const std::vector<std::string>& headers);
  void accept();
};

namespace {

std::string json_error(int http_status, int code, const std::string& message,
                       std::vector<std::string> headers = {}) {
  return net::http_response(http_status, "application/json",
                              error_response(nullptr, code, message), headers);
}

}  // namespace

std::string HttpTransport::Impl::finish(const ServerReply& reply,
                                        const std::vector<std::string>& headers) {
  if (!reply.body)
    return net::http_response(reply.http_status == 200 ? 202 : reply.http_status, "text/plain",
                                "", headers);
  return net::http_response(reply.http_status, "application/json", *reply.body, headers);
}

namespace {

HttpTransport::Impl::Step answered(std::string response) {
  HttpTransport::Impl::Step step;
  step.response = std::move(response);
  return step;
}

std::vector<std::string> with(std::vector<std::string> headers, const std::vector<std::string>& more) {
  headers.insert(headers.end(), more.begin(), more.end());
  return headers;
}

// A POST must accept JSON: this server answers with nothing else.
std::optional<std::string> check_accept(const net::HttpRequest& req,
                                        const std::vector<std::string>& cors) {
  auto accept = req.header("accept");
  if (!accept || req.method != "POST") return std::nullopt;
  std::string a(*accept);
  if (a.find("application/json") != std::string::npos || a.find("*/*") != std::string::npos ||
      a.find("application/*") != std::string::npos)
    return std::nullopt;
  return json_error(406, rpc_error::invalid_request,
                    "this server answers with application/json: accept it", cors);
}

}  // namespace

// Browsers: only allowed origins, with CORS headers (into *cors) so their pages can read the
// answers; a preflight is answered here.
std::optional<std::string> HttpTransport::Impl::check_origin(const net::HttpRequest& req,
                                                             std::vector<std::string>* cors) {
  auto origin = req.header("origin");
  if (!origin) return std::nullopt;
  bool allowed = is_local_origin(*origin) ||
                 std::find(options.allowed_origins.begin(), options.allowed_origins.end(),
                           std::string(*origin)) != options.allowed_origins.end();
  if (!allowed)
    return json_error(403, rpc_error::invalid_request,
                      fmt::format("origin {} is not allowed", *origin));
  *cors = {"Access-Control-Allow-Origin: " + std::string(*origin), "Vary: Origin",
           "Access-Control-Expose-Headers: Mcp-Session-Id"};
  if (req.method != "OPTIONS") return std::nullopt;
  return net::http_response(
      204, "text/plain", "",
      with(*cors, {"Access-Control-Allow-Methods: POST, DELETE, OPTIONS",
                   "Access-Control-Allow-Headers: Authorization, Content-Type, Accept, "
                   "Mcp-Session-Id, MCP-Protocol-Version",
                   "Access-Control-Max-Age: 600"}));
}

// The principal of a bearer token (with a token file), else the default principal.
std::optional<std::string> HttpTransport::Impl::authenticate(const net::HttpRequest& req,
                                                             const std::vector<std::string>& cors,
                                                             std::string* principal) {
  *principal = options.default_principal;
  if (!tokens && !options.authenticate) return std::nullopt;
  auto auth = req.header("authorization");
  if (!auth) {
    return json_error(401, rpc_error::invalid_request, "send 'Authorization: Bearer <token>'",
                      with({"WWW-Authenticate: Bearer realm=\"keel-mcp\""}, cors));
  }
  auto p = options.authenticate ? options.authenticate(*auth) : tokens->principal(*auth);
  if (!p.ok()) {
    return json_error(
        401, rpc_error::invalid_request, p.status().message(),
        with({"WWW-Authenticate: Bearer realm=\"keel-mcp\", error=\"invalid_token\""}, cors));
  }
  *principal = *p;
  return std::nullopt;
}

// A session belongs to the principal that opened it: to anyone else it does not exist.
Session* HttpTransport::Impl::own_session(const net::HttpRequest& req,
                                          const std::string& principal) {
  auto id = req.header("mcp-session-id");
  if (!id) return nullptr;
  auto it = sessions.find(std::string(*id));
  if (it == sessions.end() || it->second.principal != principal) return nullptr;
  return &it->second;
}

// initialize opens a session (answered at once, by prepare() itself).
HttpTransport::Impl::Step HttpTransport::Impl::initialize(ParsedMessage parsed,
                                                          const std::string& principal,
                                                          const std::vector<std::string>& cors) {
  Session fresh;
  fresh.id = new_session_id();
  fresh.principal = principal;
  PreparedMessage prepared = server.prepare(std::move(parsed), fresh);
  ServerReply reply = prepared.reply ? std::move(*prepared.reply) : run_work(prepared.work);
  std::vector<std::string> headers;
  if (fresh.initialized) {
    Status room = admit_session(principal);
    if (!room.ok()) {
      log_warn("mcp: refused a session for {}: {}", principal.empty() ? "(anonymous)" : principal,
               room.message());
      return answered(json_error(503, rpc_error::server_busy, room.message(), cors));
    }
    headers.push_back("Mcp-Session-Id: " + fresh.id);
    last_used_ns[fresh.id] = clock.now_ns();
    sessions.emplace(fresh.id, std::move(fresh));
  }
  return answered(finish(reply, with(headers, cors)));
}

// A message in an open session: answered at once, or work for a worker.
HttpTransport::Impl::Step HttpTransport::Impl::in_session(const net::HttpRequest& req,
                                                          ParsedMessage parsed,
                                                          const std::string& principal,
                                                          const std::vector<std::string>& cors) {
  if (!req.header("mcp-session-id")) {
    if (!parsed.ok())
      return answered(json_error(400, parsed.error().code, parsed.error().message, cors));
    return answered(json_error(400, rpc_error::invalid_request,
                               "Mcp-Session-Id is missing: send initialize first", cors));
  }
  Session* session = own_session(req, principal);
  if (!session) return answered(json_error(404, rpc_error::invalid_request, "unknown session", cors));
  last_used_ns[session->id] = clock.now_ns();
  PreparedMessage prepared = server.prepare(std::move(parsed), *session);
  if (prepared.reply) return answered(finish(*prepared.reply, cors));
  Step step;
  step.work = std::move(prepared.work);
  step.lane = prepared.lane;
  step.headers = cors;
  return step;
}

HttpTransport::Impl::Step HttpTransport::Impl::respond(const net::HttpRequest& req) {
  if (req.path != "/mcp")
    return answered(
        json_error(404, rpc_error::invalid_request, "not found: the MCP endpoint is /mcp"));
  std::vector<std::string> cors;
  if (auto refused = check_origin(req, &cors)) return answered(std::move(*refused));
  std::string principal;
  if (auto refused = authenticate(req, cors, &principal)) return answered(std::move(*refused));
  if (auto refused = check_accept(req, cors)) return answered(std::move(*refused));
  expire_sessions();
  if (req.method == "GET") {
    return answered(net::http_response(
        405, "application/json",
        error_response(nullptr, rpc_error::invalid_request,
                       "this server sends no server-initiated stream"),
        with({"Allow: POST, DELETE"}, cors)));
  }
  if (req.method == "DELETE") {
    Session* session = own_session(req, principal);
    if (!session)
      return answered(json_error(404, rpc_error::invalid_request, "unknown session", cors));
    end_session(session->id);
    return answered(net::http_response(204, "text/plain", "", cors));
  }
  if (req.method != "POST")
    return answered(
        json_error(405, rpc_error::invalid_request, "use POST", {"Allow: POST, DELETE"}));
  if (auto v = req.header("mcp-protocol-version"); v && !is_supported_protocol(*v)) {
    return answered(json_error(400, rpc_error::invalid_request,
                               fmt::format("unsupported MCP-Protocol-Version {}", *v)));
  }
  ParsedMessage parsed = parse_message(req.body);
  if (parsed.ok() && parsed->kind == Message::Kind::request && parsed->method == "initialize")
    return initialize(std::move(parsed), principal, cors);
  return in_session(req, std::move(parsed), principal, cors);
}

// Answers one request on the I/O thread; a request with work goes to a worker, and the
// connection takes its next request once the reply is back.
void HttpTransport::Impl::answer(const std::shared_ptr<net::HttpConnection>& c,
                                 const net::HttpRequest& req) {
  const bool keep_alive = req.keep_alive();
  Step step = respond(req);
  if (!step.work) {
    c->write(std::move(step.response));
    c->done(keep_alive);
    return;
  }
  (void)pool(step.lane).submit([c, keep_alive, work = std::move(step.work),
                                headers = std::move(step.headers)]() mutable {
    ServerReply reply = run_work(work);
    // The worker keeps no reference: the connection is only ever destroyed on the I/O thread.
    net::HttpConnection& connection = *c;
    connection.post([c = std::move(c), keep_alive, reply = std::move(reply),
                     headers = std::move(headers)] {
      c->write(finish(reply, headers));
      c->done(keep_alive);
    });
  });
}

void HttpTransport::Impl::start_connection(tcp::socket socket) {
  net::HttpConnectionOptions o = net::connection_options(
      kMaxMessageBytes, options.header_timeout_ms, options.body_timeout_ms,
      options.idle_timeout_ms);
  net::HttpConnectionHooks hooks;
  hooks.handle = [this](const std::shared_ptr<net::HttpConnection>& c, net::HttpRequest req) {
    answer(c, req);
  };
  hooks.error_body = [](const net::HttpError& e) {
    return error_response(nullptr,
                          e.status >= 500 ? rpc_error::internal_error : rpc_error::invalid_request,
                          e.message);
  };
  hooks.on_handler_failure = [](const char* what) {
    log_error("mcp: a request failed with an exception: {}", what);
  };
  net::HttpConnection::start(std::move(socket), std::move(o), std::move(hooks));
}

void HttpTransport::Impl::accept() {
  acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
    if (!ec) start_connection(std::move(socket));
    if (acceptor.is_open()) accept();
  });
}

Status parse_listen_address(const std::string& text, HttpOptions& h) {
  std::string port = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    h.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (h.host.size() > 2 && h.host.front() == '[') h.host = h.host.substr(1, h.host.size() - 2);
  }
  try {
    size_t used = 0;
    int p = std::stoi(port, &used);
    if (used != port.size() || p < 0 || p > 65535) throw std::out_of_range("port");
    h.port = static_cast<uint16_t>(p);
  } catch (const std::exception&) {
    return Status::invalid_argument(fmt::format("--http {}: expected [HOST:]PORT", text));
  }
  return Status::ok_status();
}

Result<std::unique_ptr<HttpTransport>> HttpTransport::create(McpServer& server,
                                                             const HttpOptions& options) {
  auto t = std::unique_ptr<HttpTransport>(new HttpTransport());
  t->impl_ = std::make_unique<Impl>(server, options);
  Impl& i = *t->impl_;
  if (!options.tokens_path.empty()) {
    KEEL_ASSIGN_OR_RETURN(auto tokens, TokenFile::load(options.tokens_path));
    i.tokens = std::move(tokens);
  }
  std::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec)
    return Status::invalid_argument(fmt::format("--http: '{}' is not an IP address", options.host));
  if (!address.is_loopback() && !i.tokens && !options.authenticate) {
    return Status::failed_precondition(
        fmt::format("refusing to serve MCP on {} without --tokens: anyone who can reach it could "
                    "call the tools",
                    options.host));
  }
  KEEL_RETURN_IF_ERROR(net::listen_on(i.acceptor, options.host, options.port));
  return t;
}

HttpTransport::~HttpTransport() = default;

uint16_t HttpTransport::port() const {
  return impl_->acceptor.local_endpoint().port();
}

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
