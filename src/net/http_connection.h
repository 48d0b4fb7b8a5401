// One HTTP/1.1 client connection on an Asio I/O thread, shared by the OpenAI-compatible server
// and the MCP HTTP transport: it reads requests through a RequestParser, hands each complete
// request to the server's handler, writes what the handler answers, and enforces the deadlines
// and bounds that keep a slow or hostile client from holding the server.
//
// Contract:
// - Every member function and every hook runs on the I/O thread that owns the socket, except
//   post(), which any thread may call to get there.
// - Requests are answered one at a time, in order (HTTP/1.1 without concurrent pipelining).
//   While one is answered the connection keeps reading: the bytes of pipelined requests are
//   kept (at most limits.max_body_bytes of them), and a disconnect is noticed at once, which
//   runs the abort function the handler set (the server cancels the generation).
// - The handler answers with write() (any number of pieces: a response, or a chunked stream)
//   and then done(keep_alive). It may do both later, from a function posted to the I/O thread.
//   An exception from the handler answers 500 (or closes, if the response had begun) and never
//   leaves the connection.
// - Deadlines, each 0 for none: the whole request head within header_timeout_ms (of the first
//   byte, or of the connection's start), the body within body_timeout_ms of the head's end, and
//   at most idle_timeout_ms between requests. A request that has begun gets a 408; an idle or
//   silent one is closed. A request being answered has no deadline.
// - Errors the connection answers itself (malformed or oversized requests, 408, 500) carry the
//   body hooks.error_body gives and close the connection; after an error answered before the
//   request was read to its end, what the client still sends is read and discarded for up to
//   two seconds, so the client reads the answer rather than a reset.
// - This header includes Asio: include it only where the socket comes from (the servers).
#pragma once

#include <array>
#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "net/http_parser.h"

namespace keel::net {

struct HttpConnectionOptions {
  HttpLimits limits;
  int64_t header_timeout_ms = 0;  //!< 0: no deadline
  int64_t body_timeout_ms = 0;    //!< 0: no deadline
  int64_t idle_timeout_ms = 0;    //!< 0: no deadline
  bool one_request_only = false;  //!< close after the first answer, whatever keep-alive says
};

//! Options with a body limit and the three deadlines (0: none), as the servers set them.
HttpConnectionOptions connection_options(size_t max_body_bytes, int64_t header_timeout_ms,
                                         int64_t body_timeout_ms, int64_t idle_timeout_ms);

class HttpConnection;

//! Opens `acceptor` on host:port (host: an IP address; port 0: any free one) with SO_REUSEADDR:
//! invalid_argument for a host that is not an IP address, unavailable (with the system's
//! reason) when it cannot listen there.
[[nodiscard]] Status listen_on(asio::ip::tcp::acceptor& acceptor, const std::string& host, uint16_t port,
                               int backlog = asio::socket_base::max_listen_connections);

//! What a server plugs into its connections. Empty hooks do nothing (error_body: an empty body).
struct HttpConnectionHooks {
  //! Sees each request's head before its body is taken (RequestParser::HeadCheck).
  RequestParser::HeadCheck check_head;
  //! Answers a complete request: write(), then done().
  std::function<void(const std::shared_ptr<HttpConnection>&, HttpRequest)> handle;
  //! The application/json body of an error the connection answers itself.
  std::function<std::string(const HttpError&)> error_body;
  //! A deadline passed; `phase` is "header", "body" or "idle".
  std::function<void(std::string_view phase)> on_timeout;
  //! The handler threw `what`; the connection has answered 500 or closed.
  std::function<void(const char* what)> on_handler_failure;
  //! Once, when the connection closes.
  std::function<void()> on_close;
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  //! Starts serving `socket`; the connection keeps itself alive until it closes.
  static std::shared_ptr<HttpConnection> start(asio::ip::tcp::socket socket,
                                               HttpConnectionOptions options,
                                               HttpConnectionHooks hooks);

  HttpConnection(asio::ip::tcp::socket socket, HttpConnectionOptions options,
                 HttpConnectionHooks hooks);

  //! Queues bytes of the current answer (nothing once closed).
  void write(std::string data);
  //! The current request is answered: close, or take the next one.
  void done(bool keep_alive);
  //! What to run if the client goes away while its request is answered (nullptr: nothing).
  void set_abort(std::function<void()> abort) { abort_ = std::move(abort); }
  bool closed() const { return closed_; }
  //! Runs `fn` on the connection's I/O thread; callable from any thread.
  void post(std::function<void()> fn);

 private:
  enum class Phase { head, body, idle, busy, linger };

  void arm(Phase phase);
  void on_deadline();
  void answer_error(const HttpError& error);
  void read();
  void on_read(size_t n);
  void process(RequestParser::Parse parse);
  void wait_for_more();
  void dispatch(HttpRequest request);
  void flush();
  void close_after_write();
  void end_after_write();
  void close();
  void on_closed();
  void on_eof();

  asio::ip::tcp::socket socket_;
  const asio::any_io_executor executor_;  //!< the socket's, copied once: post() reads it from any thread
  asio::steady_timer timer_;
  HttpConnectionOptions options_;
  HttpConnectionHooks hooks_;
  RequestParser parser_;
  std::array<char, 16384> buffer_{};
  std::string pending_;  //!< bytes that arrived while a request was answered
  std::deque<std::string> out_;
  bool writing_ = false, busy_ = false, closed_ = false, close_after_write_ = false;
  bool read_eof_ = false, response_started_ = false, lingering_ = false;
  Phase phase_ = Phase::head;
  uint64_t timer_generation_ = 0, requests_ = 0;
  int version_minor_ = 1;  //!< of the request being answered
  std::function<void()> abort_;
};

}  // namespace keel::net
