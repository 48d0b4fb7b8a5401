// The shared HTTP connection on a real loopback socket, with handlers that answer at once, later,
// or throw: what both servers rely on (order, deadlines, errors answered by the connection).
#include "net/http_connection.h"

#include <gtest/gtest.h>

#include <thread>

#include "net/http_response.h"

namespace keel::net {
namespace {

using asio::ip::tcp;

// A server on 127.0.0.1 whose connections use `hooks`; run() on its own thread.
class LoopbackServer {
 public:
  LoopbackServer(HttpConnectionOptions options, HttpConnectionHooks hooks)
      : options_(std::move(options)), hooks_(std::move(hooks)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LoopbackServer() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int closed() const { return closed_.load(); }

  //! Sends `request` on a new connection and reads until the server closes it.
  std::string exchange(const std::string& request) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port()});
    asio::write(s, asio::buffer(request));
    std::string out;
    std::array<char, 4096> buf;
    std::error_code ec;
    for (;;) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf.data(), n);
    }
    return out;
  }

 private:
  void accept() {
    acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (ec) return;
      HttpConnectionHooks hooks = hooks_;
      hooks.on_close = [this] { ++closed_; };
      HttpConnection::start(std::move(socket), options_, std::move(hooks));
      accept();
    });
  }

  HttpConnectionOptions options_;
  HttpConnectionHooks hooks_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::atomic<int> closed_{0};
  std::thread thread_;
};

HttpConnectionHooks echo_path_hooks() {
  HttpConnectionHooks hooks;
  hooks.handle = [](const std::shared_ptr<HttpConnection>& c, HttpRequest r) {
    if (r.path == "/throw") throw std::runtime_error("handler bug");
    const bool keep = r.keep_alive();
    if (r.path == "/later") {  // answered from a posted function, as the servers' workers do
      std::thread([c, keep]() mutable {
        HttpConnection& connection = *c;
        connection.post([c = std::move(c), keep] {
          c->write(http_response(200, "text/plain", "later", {}, keep));
          c->done(keep);
        });
      }).detach();
      return;
    }
    c->write(http_response(200, "text/plain", r.path, {}, keep));
    c->done(keep);
  };
  hooks.error_body = [](const HttpError& e) { return "{\"code\":\"" + e.code + "\"}"; };
  return hooks;
}

TEST(HttpConnection, PipelinedRequestsAreAnsweredInOrderEvenWhenOneIsAnsweredLater) {
  LoopbackServer server({}, echo_path_hooks());
  std::string out = server.exchange(
      "GET /a HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
  const size_t a = out.find("\r\n\r\n/a"), later = out.find("later"), c = out.find("\r\n\r\n/c");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(later, std::string::npos) << out;
  ASSERT_NE(c, std::string::npos) << out;
  EXPECT_LT(a, later);
  EXPECT_LT(later, c);
}

TEST(HttpConnection, AHandlerExceptionAnswers500AndTheServerGoesOn) {
  HttpConnectionHooks hooks = echo_path_hooks();
  std::atomic<int> failures{0};
  hooks.on_handler_failure = [&failures](const char*) { ++failures; };
  LoopbackServer server({}, hooks);
  std::string out = server.exchange("GET /throw HTTP/1.1\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 500", 0), 0u) << out;
  EXPECT_NE(out.find("internal_error"), std::string::npos) << out;
  EXPECT_EQ(failures.load(), 1);
  EXPECT_NE(server.exchange("GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n").find("/ok"),
            std::string::npos);
}

TEST(HttpConnection, MalformedRequestsGetTheErrorBodyAndTheConnectionCloses) {
  LoopbackServer server({}, echo_path_hooks());
  std::string out = server.exchange("GET /a HTTP/1.1\r\nbad header line\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_NE(out.find("{\"code\":\"bad_request\"}"), std::string::npos) << out;
}

TEST(HttpConnection, AHeadThatDoesNotArriveInTimeGets408) {
  HttpConnectionOptions options;
  options.header_timeout_ms = 200;
  HttpConnectionHooks hooks = echo_path_hooks();
  std::atomic<int> timeouts{0};
  hooks.on_timeout = [&timeouts](std::string_view phase) {
    if (phase == "header") ++timeouts;
  };
  LoopbackServer server(options, hooks);
  std::string out = server.exchange("GET /a HTTP/1.1\r\nHost: x\r\n");  // never ends its head
  EXPECT_EQ(out.rfind("HTTP/1.1 408", 0), 0u) << out;
  EXPECT_NE(out.find("request_timeout"), std::string::npos) << out;
  EXPECT_EQ(timeouts.load(), 1);
}

TEST(HttpConnection, OneRequestOnlyClosesAfterTheFirstAnswer) {
  HttpConnectionOptions options;
  options.one_request_only = true;
  LoopbackServer server(options, echo_path_hooks());
  std::string out = server.exchange("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  EXPECT_NE(out.find("/a"), std::string::npos) << out;
  EXPECT_EQ(out.find("/b"), std::string::npos) << out;
  for (int i = 0; i < 100 && server.closed() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server.closed(), 1);
}

}  // namespace
}  // namespace keel::net
