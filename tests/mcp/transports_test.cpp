// MCP transports under hostile and concurrent clients, in process: stdio (serve_stdio on
// streams) and Streamable HTTP (HttpTransport on loopback, real sockets).
//
// - Malformed messages (fields of the wrong type, a wrong "jsonrpc", a throwing handler) get
//   JSON-RPC errors over both transports and never end the server: a table of messages, each
//   followed by a ping that must still be answered.
// - Sessions belong to the principal that opened them: another principal can neither use nor
//   delete them, and one principal's initialize flood never evicts another's session.
// - A tool call runs off the I/O thread: while one client's tool is blocked, another client's
//   tools/list is answered (shown by the order of events, not by timing).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <thread>

#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp_server.h"
#include "mcp/transports.h"
#include "support/test_support.h"

namespace keel::mcp {
namespace {

// A deadlock guard only: the tests below wait for events, and fail (instead of hanging) when
// an event does not come within this long.
constexpr int kGuardMs = 30000;

//! Waits until released, so a test can hold a tool call in progress.
class Gate {
 public:
  void enter() {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
  }
  bool wait_entered() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::milliseconds(kGuardMs), [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  bool released() {
    std::lock_guard lock(mutex_);
    return released_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false, released_ = false;
};

class TestTools : public ToolProvider {
 public:
  explicit TestTools(Gate* gate = nullptr) : gate_(gate) {}
  std::vector<Json> list(const std::string&) override {
    return {{{"name", "echo"}, {"inputSchema", {{"type", "object"}}}},
            {{"name", "block"}, {"inputSchema", {{"type", "object"}}}},
            {{"name", "throw"}, {"inputSchema", {{"type", "object"}}}}};
  }
  Result<ToolCallOutcome> call(const std::string& principal, const std::string& name,
                               const Json& args) override {
    if (name == "throw") throw std::runtime_error("a handler bug");
    if (name == "block" && gate_) gate_->enter();
    if (name != "echo" && name != "block") return Status::not_found("no such tool");
    return ToolCallOutcome{
        {{"content", {{{"type", "text"}, {"text", principal + ":" + dump_json(args)}}}}}};
  }

 private:
  Gate* gate_;
};

class TestResources : public ResourceProvider {
 public:
  Result<std::vector<Json>> list() override {
    return std::vector<Json>{{{"uri", "test:a"}, {"name", "a"}}};
  }
  Result<Json> read(const std::string& uri) override {
    if (uri != "test:a") return Status::not_found("no");
    return Json{{"contents", Json::array({{{"uri", uri}, {"text", "a"}}})}};
  }
};

class TestPrompts : public PromptProvider {
 public:
  std::vector<Json> list() override { return {{{"name", "p"}}}; }
  Result<Json> get(const std::string& name, const Json&) override {
    if (name != "p") return Status::not_found("no");
    return Json{{"messages", Json::array()}};
  }
};

std::unique_ptr<McpServer> make_server(Gate* gate = nullptr) {
  auto s = std::make_unique<McpServer>("keel", "1", "");
  s->add_tools(std::make_shared<TestTools>(gate));
  s->add_resources(std::make_shared<TestResources>());
  s->add_prompts(std::make_shared<TestPrompts>());
  return s;
}

const std::string kInitialize = request(0, "initialize",
                                        {{"protocolVersion", "2025-11-25"},
                                         {"capabilities", Json::object()},
                                         {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
const std::string kInitialized = notification("notifications/initialized", Json::object());
const std::string kPing = request(99, "ping", Json::object());

//! One hostile message: the JSON-RPC error code it must get, or 0 for a message that gets no
//! reply (a notification or a response); http_status is what Streamable HTTP answers.
struct Hostile {
  std::string text;
  int code;
  int http_status;
};

std::vector<Hostile> hostile_messages() {
  const int invalid = rpc_error::invalid_request, params = rpc_error::invalid_params;
  return {
      // The envelope.
      {R"({"jsonrpc":2,"id":7,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":null,"id":7,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":["2.0"],"id":7,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":{"v":"2.0"},"id":7,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":2,"method":"notifications/initialized"})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":7,"method":5})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":7,"method":null})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":true,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":null,"method":"ping"})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":7,"method":"ping","params":"x"})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":7,"method":"ping","params":null})", invalid, 400},
      {R"({"jsonrpc":"2.0","id":7})", invalid, 400},
      {R"("just a string")", invalid, 400},
      {R"(42)", invalid, 400},
      {R"(null)", invalid, 400},
      // Responses (we send no requests): accepted and ignored, whatever their payload.
      {R"({"jsonrpc":"2.0","id":7,"result":5})", 0, 202},
      {R"({"jsonrpc":"2.0","id":7,"error":"x"})", 0, 202},
      // Notifications with fields of the wrong type: no reply over stdio; 400 over HTTP.
      {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":5}})",
       0, 400},
      {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":null}})",
       0, 400},
      {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"a":1}}})", 0,
       400},
      {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1.5}})", 0,
       400},
      {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"reason":"no id"}})", 0,
       202},
      {R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"fine"}})",
       0, 202},
      {R"({"jsonrpc":"2.0","method":"notifications/initialized","params":{"x":[1]}})", 0, 202},
      {R"({"jsonrpc":"2.0","method":"notifications/unknown","params":{"x":1}})", 0, 202},
      // Requests with params of the wrong type.
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":5}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":null}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":[1]}})",
       params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":"x"}})",
       params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":null}})",
       params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call"})", params, 200},
      {R"({"jsonrpc":"2.0","id":"s","method":"tools/list","params":{"cursor":7}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"cursor":{"x":1}}})", params,
       200},
      {R"({"jsonrpc":"2.0","id":7,"method":"resources/list","params":{"cursor":true}})", params,
       200},
      {R"({"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":null}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":["test:a"]}})", params,
       200},
      {R"({"jsonrpc":"2.0","id":7,"method":"prompts/list","params":{"cursor":1.5}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"prompts/get","params":{"name":["p"]}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"prompts/get","params":{"name":"p","arguments":"x"}})",
       params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"logging/setLevel","params":{"level":3}})", params, 200},
      {R"({"jsonrpc":"2.0","id":7,"method":"logging/setLevel","params":{"level":null}})", params,
       200},
      // A handler that throws: an internal error, and the server goes on.
      {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"throw"}})",
       rpc_error::internal_error, 200},
  };
}

//! Every reply line of a stdio run, by id ("null" for replies without one).
std::map<std::string, std::vector<Json>> replies_by_id(const std::string& out) {
  std::map<std::string, std::vector<Json>> by_id;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    auto j = parse_json(line);
    EXPECT_TRUE(j.ok()) << line;
    if (j.ok()) by_id[dump_json(j->value("id", Json()))].push_back(*j);
  }
  return by_id;
}

TEST(McpStdio, HostileMessagesGetErrorsAndTheServerGoesOn) {
  for (const auto& h : hostile_messages()) {
    SCOPED_TRACE(h.text);
    auto server = make_server();
    std::istringstream in(kInitialize + "\n" + kInitialized + "\n" + h.text + "\n" + kPing + "\n");
    std::ostringstream out;
    serve_stdio(*server, "agent", in, out);
    auto by_id = replies_by_id(out.str());
    ASSERT_EQ(by_id["0"].size(), 1u) << out.str();
    ASSERT_EQ(by_id["99"].size(), 1u) << "the server stopped answering:\n" << out.str();
    EXPECT_TRUE(by_id["99"][0]["result"].is_object());
    size_t others = 0;
    for (const auto& [id, replies] : by_id) {
      if (id == "0" || id == "99") continue;
      others += replies.size();
      if (h.code != 0) {
        EXPECT_EQ(replies[0]["error"]["code"], h.code) << out.str();
      }
    }
    EXPECT_EQ(others, h.code != 0 ? 1u : 0u) << out.str();
  }
}

//! `keel mcp serve --http` in this process, on its own thread.
class HttpServer {
 public:
  HttpServer(McpServer& server, HttpOptions options) {
    auto t = HttpTransport::create(server, options);
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    if (!t.ok()) return;
    transport_ = std::move(*t);
    port_ = transport_->port();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    thread_ = std::thread([this] { transport_->run(); });
  }
  ~HttpServer() {
    if (transport_) transport_->stop();
    if (thread_.joinable()) thread_.join();
  }
  const std::string& url() const { return url_; }
  uint16_t port() const { return port_; }

 private:
  std::unique_ptr<HttpTransport> transport_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string url_;
};

std::vector<std::string> headers_for(const std::string& session, const std::string& token = "") {
  std::vector<std::string> h = {"Content-Type: application/json",
                                "Accept: application/json, text/event-stream"};
  if (!session.empty()) h.push_back("Mcp-Session-Id: " + session);
  if (!token.empty()) h.push_back("Authorization: Bearer " + token);
  return h;
}

//! Opens a session; returns its id ("" on failure).
std::string open_session(const std::string& url, const std::string& token = "") {
  auto r =
      testing::http_request(url, "POST", "/mcp", kInitialize, headers_for("", token), kGuardMs);
  EXPECT_EQ(r.status, 200) << r.body;
  auto it = r.headers.find("mcp-session-id");
  return it == r.headers.end() ? "" : it->second;
}

testing::HttpResult post(const std::string& url, const std::string& session,
                         const std::string& body, const std::string& token = "") {
  return testing::http_request(url, "POST", "/mcp", body, headers_for(session, token), kGuardMs);
}

bool ping_works(const std::string& url, const std::string& session, const std::string& token = "") {
  auto r = post(url, session, kPing, token);
  auto j = parse_json(r.body);
  return r.status == 200 && j.ok() && j->contains("result");
}

TEST(McpHttp, HostileMessagesGetErrorsAndTheServerGoesOn) {
  auto server = make_server();
  HttpOptions o;
  o.default_principal = "agent";
  HttpServer http(*server, o);
  for (const auto& h : hostile_messages()) {
    SCOPED_TRACE(h.text);
    std::string session = open_session(http.url());
    ASSERT_FALSE(session.empty());
    auto r = post(http.url(), session, h.text);
    EXPECT_EQ(r.status, h.http_status) << r.body;
    if (h.code != 0) {
      auto j = parse_json(r.body);
      ASSERT_TRUE(j.ok()) << r.body;
      EXPECT_EQ((*j)["error"]["code"], h.code) << r.body;
    }
    EXPECT_TRUE(ping_works(http.url(), session)) << "the server stopped answering";
    // The same message without a session (it is read before the session is checked).
    auto lone = post(http.url(), "", h.text);
    EXPECT_GE(lone.status, 400) << lone.body;
    EXPECT_TRUE(ping_works(http.url(), session));
  }
}

// ---- sessions ----------------------------------------------------------------------------------

struct TwoPrincipals {
  testing::TempDir dir;
  const std::string alice = "alice-token-0123456789";
  const std::string bob = "bob-token-0123456789";
  HttpOptions options;
  TwoPrincipals() {
    testing::write_file(dir.file("tokens.yaml"),
                        "principals:\n  - {id: alice, tokens_sha256: [" + sha256_hex(alice) +
                            "]}\n  - {id: bob, tokens_sha256: [" + sha256_hex(bob) + "]}\n");
    options.tokens_path = dir.file("tokens.yaml");
  }
};

TEST(McpHttp, ASessionBelongsToThePrincipalThatOpenedIt) {
  TwoPrincipals p;
  auto server = make_server();
  HttpServer http(*server, p.options);
  std::string alice_session = open_session(http.url(), p.alice);
  ASSERT_FALSE(alice_session.empty());
  // Bob can neither use nor delete it.
  EXPECT_EQ(post(http.url(), alice_session, kPing, p.bob).status, 404);
  EXPECT_EQ(post(http.url(), alice_session, request(5, "tools/list", Json::object()), p.bob).status,
            404);
  auto del = testing::http_request(http.url(), "DELETE", "/mcp", "",
                                   headers_for(alice_session, p.bob), kGuardMs);
  EXPECT_EQ(del.status, 404) << del.body;
  EXPECT_TRUE(ping_works(http.url(), alice_session, p.alice)) << "bob ended alice's session";
  // Alice can.
  auto own = testing::http_request(http.url(), "DELETE", "/mcp", "",
                                   headers_for(alice_session, p.alice), kGuardMs);
  EXPECT_EQ(own.status, 204) << own.body;
  EXPECT_FALSE(ping_works(http.url(), alice_session, p.alice));
}

TEST(McpHttp, OnePrincipalsInitializeFloodNeverEvictsAnothersSession) {
  TwoPrincipals p;
  auto server = make_server();
  HttpServer http(*server, p.options);
  std::string bob_session = open_session(http.url(), p.bob);
  ASSERT_FALSE(bob_session.empty());
  std::string alice_first = open_session(http.url(), p.alice);
  std::string alice_last;
  for (int i = 0; i < 1100; ++i) {
    alice_last = open_session(http.url(), p.alice);
    ASSERT_FALSE(alice_last.empty()) << "initialize " << i;
  }
  EXPECT_TRUE(ping_works(http.url(), bob_session, p.bob)) << "alice's flood evicted bob's session";
  EXPECT_TRUE(ping_works(http.url(), alice_last, p.alice));
  EXPECT_FALSE(ping_works(http.url(), alice_first, p.alice))
      << "alice's oldest session should make room for her newest";
}

TEST(McpHttp, APrincipalAtItsCapEndsItsOwnOldestSession) {
  TwoPrincipals p;
  p.options.max_sessions_per_principal = 3;
  auto server = make_server();
  HttpServer http(*server, p.options);
  std::string bob = open_session(http.url(), p.bob);
  std::vector<std::string> alice;
  for (int i = 0; i < 3; ++i) alice.push_back(open_session(http.url(), p.alice));
  // Using the first makes the second the least recently used.
  EXPECT_TRUE(ping_works(http.url(), alice[0], p.alice));
  alice.push_back(open_session(http.url(), p.alice));
  EXPECT_TRUE(ping_works(http.url(), alice[0], p.alice));
  EXPECT_FALSE(ping_works(http.url(), alice[1], p.alice));
  EXPECT_TRUE(ping_works(http.url(), alice[2], p.alice));
  EXPECT_TRUE(ping_works(http.url(), alice[3], p.alice));
  EXPECT_TRUE(ping_works(http.url(), bob, p.bob));
}

TEST(McpHttp, AtTheTotalCapANewPrincipalIsRefusedAndNobodyIsEvicted) {
  TwoPrincipals p;
  p.options.max_sessions = 4;
  p.options.max_sessions_per_principal = 10;
  auto server = make_server();
  HttpServer http(*server, p.options);
  std::vector<std::string> alice;
  for (int i = 0; i < 4; ++i) alice.push_back(open_session(http.url(), p.alice));
  auto refused = testing::http_request(http.url(), "POST", "/mcp", kInitialize,
                                       headers_for("", p.bob), kGuardMs);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(parse_json(refused.body).value_or(Json())["error"]["code"], rpc_error::server_busy)
      << refused.body;
  EXPECT_EQ(refused.headers.count("mcp-session-id"), 0u);
  for (const auto& s : alice) EXPECT_TRUE(ping_works(http.url(), s, p.alice));
  // Alice, who holds sessions, makes room among her own.
  std::string newest = open_session(http.url(), p.alice);
  EXPECT_TRUE(ping_works(http.url(), newest, p.alice));
  EXPECT_FALSE(ping_works(http.url(), alice[0], p.alice));
  // Once she ends one, bob gets in.
  auto del = testing::http_request(http.url(), "DELETE", "/mcp", "", headers_for(alice[1], p.alice),
                                   kGuardMs);
  EXPECT_EQ(del.status, 204);
  std::string bob = open_session(http.url(), p.bob);
  EXPECT_TRUE(ping_works(http.url(), bob, p.bob));
}

TEST(McpHttp, IdleSessionsExpire) {
  ManualClock clock;
  auto server = make_server();
  HttpOptions o;
  o.default_principal = "agent";
  o.session_idle_ms = 60'000;
  o.clock = &clock;
  HttpServer http(*server, o);
  std::string idle = open_session(http.url());
  std::string busy = open_session(http.url());
  clock.advance_ns(50'000'000'000);
  EXPECT_TRUE(ping_works(http.url(), busy));
  clock.advance_ns(50'000'000'000);
  EXPECT_TRUE(ping_works(http.url(), busy));
  EXPECT_FALSE(ping_works(http.url(), idle));
}

// ---- a slow tool does not hold up other clients ------------------------------------------------

TEST(McpHttp, ASlowToolDoesNotDelayAnotherClientsToolsList) {
  Gate gate;
  auto server = make_server(&gate);
  HttpOptions o;
  o.default_principal = "agent";
  // One worker per lane: the list must not queue behind the tool call.
  o.workers.tool_call_threads = 1;
  o.workers.quick_threads = 1;
  HttpServer http(*server, o);
  std::string slow_session = open_session(http.url());
  std::string other_session = open_session(http.url());
  auto slow = std::async(std::launch::async, [&] {
    return testing::http_request(http.url(), "POST", "/mcp",
                                 request(1, "tools/call", {{"name", "block"}}),
                                 headers_for(slow_session), 2 * kGuardMs);
  });
  ASSERT_TRUE(gate.wait_entered()) << "the slow tool never started";
  auto list = post(http.url(), other_session, request(2, "tools/list", Json::object()));
  const bool listed_while_blocked = !gate.released();
  gate.release();
  EXPECT_EQ(list.status, 200) << "tools/list waited for another client's tool call";
  EXPECT_TRUE(listed_while_blocked);
  EXPECT_NE(list.body.find("\"block\""), std::string::npos) << list.body;
  auto done = slow.get();
  EXPECT_EQ(done.status, 200);
  EXPECT_NE(done.body.find("agent:{}"), std::string::npos) << done.body;
}

//! Sends `bytes` on one connection and reads `count` responses (Content-Length framed); their
//! bodies in the order they came.
std::vector<std::string> pipelined(uint16_t port, const std::string& bytes, size_t count) {
  std::vector<std::string> bodies;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return bodies;
  timeval guard{kGuardMs / 1000, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    return bodies;
  }
  std::string in;
  char buffer[4096];
  while (bodies.size() < count) {
    size_t head_end = in.find("\r\n\r\n");
    size_t length_at = in.find("Content-Length: ");
    if (head_end != std::string::npos && length_at < head_end) {
      size_t length = std::stoul(in.substr(length_at + 16));
      if (in.size() >= head_end + 4 + length) {
        bodies.push_back(in.substr(head_end + 4, length));
        in.erase(0, head_end + 4 + length);
        continue;
      }
    }
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    in.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bodies;
}

TEST(McpHttp, PipelinedRequestsAreAnsweredInOrder) {
  Gate gate;
  auto server = make_server(&gate);
  HttpOptions o;
  o.default_principal = "agent";
  HttpServer http(*server, o);
  std::string session = open_session(http.url());
  auto post_bytes = [&](const std::string& body) {
    return "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: "
           "application/json\r\nMcp-Session-Id: " +
           session + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  auto answers = std::async(std::launch::async, [&] {
    return pipelined(http.port(),
                     post_bytes(request(1, "tools/call", {{"name", "block"}})) +
                         post_bytes(request(2, "tools/list", Json::object())) +
                         post_bytes(request(3, "ping", Json::object())),
                     3);
  });
  ASSERT_TRUE(gate.wait_entered());
  gate.release();
  auto bodies = answers.get();
  ASSERT_EQ(bodies.size(), 3u);
  for (size_t i = 0; i < bodies.size(); ++i) {
    auto j = parse_json(bodies[i]);
    ASSERT_TRUE(j.ok()) << bodies[i];
    EXPECT_EQ((*j)["id"], static_cast<int>(i) + 1) << bodies[i];
    EXPECT_TRUE(j->contains("result")) << bodies[i];
  }
}

//! An input stream fed line by line by the test; it ends when closed.
class FedInput : public std::streambuf {
 public:
  void push(const std::string& line) {
    std::lock_guard lock(mutex_);
    pending_ += line + "\n";
    changed_.notify_all();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }

 protected:
  int_type underflow() override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !pending_.empty() || closed_; });
    if (pending_.empty()) return traits_type::eof();
    current_ = std::move(pending_);
    pending_.clear();
    setg(current_.data(), current_.data(), current_.data() + current_.size());
    return traits_type::to_int_type(current_[0]);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string pending_, current_;
  bool closed_ = false;
};

//! An output stream whose lines the test can wait for.
class WatchedOutput : public std::streambuf {
 public:
  bool wait_for(const std::string& needle) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::milliseconds(kGuardMs),
                             [&] { return text_.find(needle) != std::string::npos; });
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    std::lock_guard lock(mutex_);
    text_.push_back(traits_type::to_char_type(c));
    changed_.notify_all();
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard lock(mutex_);
    text_.append(s, static_cast<size_t>(n));
    changed_.notify_all();
    return n;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_;
};

TEST(McpStdio, ASlowToolDoesNotDelayPingOrToolsList) {
  Gate gate;
  auto server = make_server(&gate);
  FedInput input;
  WatchedOutput output;
  std::istream in(&input);
  std::ostream out(&output);
  std::thread serving([&] {
    serve_stdio(*server, "agent", in, out, {.tool_call_threads = 1, .quick_threads = 1});
  });
  input.push(kInitialize);
  input.push(kInitialized);
  input.push(request(1, "tools/call", {{"name", "block"}}));
  ASSERT_TRUE(gate.wait_entered());
  input.push(request(2, "tools/list", Json::object()));
  const bool listed = output.wait_for(R"({"id":2,"jsonrpc":"2.0","result")");
  const bool listed_while_blocked = listed && !gate.released();
  gate.release();
  EXPECT_TRUE(listed_while_blocked) << output.text();
  EXPECT_TRUE(output.wait_for(R"({"id":1,"jsonrpc":"2.0","result")")) << output.text();
  input.close();
  serving.join();
  auto by_id = replies_by_id(output.text());
  EXPECT_EQ(by_id["1"].size(), 1u);
  EXPECT_EQ(by_id["2"].size(), 1u);
}

TEST(TokenFile, ReadsHashedTokensAndRefusesWhatItDoesNotKnow) {
  testing::TempDir dir;
  testing::write_file(dir.file("tokens.yaml"),
                      "principals:\n  - id: agent\n    tokens_sha256: [" + sha256_hex("t-1") + "]\n");
  auto tokens = TokenFile::load(dir.file("tokens.yaml"));
  ASSERT_TRUE(tokens.ok()) << tokens.status().to_string();
  EXPECT_EQ(tokens->principal("Bearer t-1").value_or(""), "agent");
  EXPECT_FALSE(tokens->principal("Bearer t-2").ok());
  struct Case {
    std::string yaml, fragment;
  };
  for (const auto& c : std::vector<Case>{
           {"principals: 3\n", "principals: expected a list, got '3' (line 1)"},
           {"principals:\n  - id: a\n    tokens_sha256: [plaintext]\n",
            "principals[0].tokens_sha256[0]: expected 64 hex digits"},
           {"principals:\n  - id: a\n    token_sha256: []\n",
            "principals[0].token_sha256: unknown key; did you mean 'tokens_sha256'?"},
           {"principals:\n  - tokens_sha256: []\n", "principals[0].id: required key is missing"},
           {"principals: [\n", "YAML syntax error"},
       }) {
    testing::write_file(dir.file("bad.yaml"), c.yaml);
    auto bad = TokenFile::load(dir.file("bad.yaml"));
    ASSERT_FALSE(bad.ok()) << c.yaml;
    EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(bad.status().message().find(c.fragment), std::string::npos) << bad.status().message();
  }
  EXPECT_EQ(TokenFile::load(dir.file("missing.yaml")).status().code(), StatusCode::not_found);
}

}  // namespace
}  // namespace keel::mcp
