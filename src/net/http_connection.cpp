#include "net/http_connection.h"

#include <fmt/format.h>

#include <chrono>

#include "core/log.h"
#include "net/http_response.h"

namespace keel::net {

HttpConnectionOptions connection_options(size_t max_body_bytes, int64_t header_timeout_ms,
                                         int64_t body_timeout_ms, int64_t idle_timeout_ms) {
  HttpConnectionOptions o;
  o.limits.max_body_bytes = max_body_bytes;
  o.header_timeout_ms = header_timeout_ms;
  o.body_timeout_ms = body_timeout_ms;
  o.idle_timeout_ms = idle_timeout_ms;
  return o;
}

Status listen_on(asio::ip::tcp::acceptor& acceptor, const std::string& host, uint16_t port, int backlog) {
  std::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::invalid_argument(fmt::format("'{}' is not an IP address", host));
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) return Status::unavailable(fmt::format("cannot listen on {}:{}: {}", host, port, ec.message()));
  return Status();
}

using asio::ip::tcp;

namespace {

//! After an error answered before the request was read to its end: how long the rest of what
//! the client sends is read and discarded, at most.
constexpr int64_t kLingerMs = 2000;

RequestParser::Parse need_more() { return std::optional<HttpRequest>(); }

}  // namespace

std::shared_ptr<HttpConnection> HttpConnection::start(tcp::socket socket,
                                                      HttpConnectionOptions options,
                                                      HttpConnectionHooks hooks) {
  auto c = std::make_shared<HttpConnection>(std::move(socket), std::move(options),
                                            std::move(hooks));
  c->arm(Phase::head);
  c->read();
  return c;
}

HttpConnection::HttpConnection(tcp::socket socket, HttpConnectionOptions options,
                               HttpConnectionHooks hooks)
    : socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      timer_(executor_),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      parser_(options_.limits) {
  if (hooks_.check_head) parser_.set_head_check(hooks_.check_head);
}

void HttpConnection::post(std::function<void()> fn) {
  asio::post(executor_, std::move(fn));
}

void HttpConnection::write(std::string data) {
  if (closed_) return;
  response_started_ = true;
  out_.push_back(std::move(data));
  if (!writing_) flush();
}

void HttpConnection::done(bool keep_alive) {
  abort_ = nullptr;
  busy_ = false;
  response_started_ = false;
  if (!keep_alive || options_.one_request_only) {
    close_after_write();
    return;
  }
  // The next pipelined request is taken in a handler of its own: answering it here would nest
  // one call per request (a client's buffer full of pipelined requests would exhaust the
  // stack), and other connections get their turn in between.
  auto self = shared_from_this();
  asio::post(executor_, [self] {
    if (!self->closed_ && !self->busy_) self->process(self->parser_.poll());
  });
}

// One timer, re-armed at each change of phase.
void HttpConnection::arm(Phase phase) {
  phase_ = phase;
  ++timer_generation_;
  const int64_t ms = phase == Phase::head     ? options_.header_timeout_ms
                     : phase == Phase::body   ? options_.body_timeout_ms
                     : phase == Phase::idle   ? options_.idle_timeout_ms
                     : phase == Phase::linger ? kLingerMs
                                              : 0;
  if (ms <= 0) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(ms));
  std::weak_ptr<HttpConnection> weak = shared_from_this();
  timer_.async_wait([weak, generation = timer_generation_](std::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_ || generation != self->timer_generation_) return;
    self->on_deadline();
  });
}

void HttpConnection::on_deadline() {
  if (phase_ == Phase::linger) {
    close();
    return;
  }
  const char* phase = phase_ == Phase::head ? "header" : phase_ == Phase::body ? "body" : "idle";
  if (hooks_.on_timeout) hooks_.on_timeout(phase);
  // A request that has begun gets a 408 saying why; a silent connection is just closed.
  if (phase_ == Phase::body || (phase_ == Phase::head && parser_.buffered() > 0)) {
    busy_ = true;
    answer_error({408,
                  phase_ == Phase::body ? "the request body did not arrive in time"
                                        : "the request head did not arrive in time",
                  "request_timeout",
                  {}});
    close_after_write();
    return;
  }
  close();
}

void HttpConnection::answer_error(const HttpError& e) {
  write(http_response(e.status, "application/json", hooks_.error_body ? hooks_.error_body(e) : "",
                      e.headers, false));
}

void HttpConnection::read() {
  if (closed_ || read_eof_) return;
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(buffer_), [self](std::error_code ec, size_t n) {
    if (self->closed_) return;
    if (self->lingering_) {  // discarding what follows an error answer
      if (!ec) return self->read();
      self->read_eof_ = true;
      if (!self->writing_) self->close();  // else the write's completion closes
      return;
    }
    if (ec == asio::error::eof) return self->on_eof();
    if (ec) return self->on_closed();
    self->on_read(n);
    self->read();
  });
}

void HttpConnection::on_read(size_t n) {
  const std::string_view bytes(buffer_.data(), n);
  if (busy_ || !pending_.empty()) {
    // Bytes of a next request while this one is answered (or before what was kept then is
    // taken): keep them, in order, within bounds.
    pending_ += bytes;
    if (pending_.size() > options_.limits.max_body_bytes) return on_closed();
    if (!busy_) process(need_more());
    return;
  }
  process(parser_.feed(bytes));
}

void HttpConnection::process(RequestParser::Parse parse) {
  if (busy_ || closed_) return;
  if (!pending_.empty()) {  // bytes that came while the last request was answered
    parser_.append(pending_);
    pending_.clear();
    if (parse.ok() && !parse->has_value()) parse = parser_.poll();
  }
  if (!parse.ok()) {
    busy_ = true;
    HttpError e = std::move(parse).error();
    if (e.code.empty()) e.code = "bad_request";
    answer_error(e);
    lingering_ = true;  // the client may still be sending the body we refused: discard it
    done(false);
    return;
  }
  if (!parse->has_value()) return wait_for_more();
  busy_ = true;
  arm(Phase::busy);
  dispatch(std::move(**parse));
}

// Waiting for more bytes: the deadline of what is missing.
void HttpConnection::wait_for_more() {
  if (read_eof_) {
    close_after_write();  // the client will send nothing more, and what it sent is no request
  } else if (parser_.reading_body()) {
    if (phase_ != Phase::body) arm(Phase::body);
  } else if (parser_.buffered() > 0) {
    if (phase_ != Phase::head) arm(Phase::head);
  } else if (phase_ != Phase::idle && phase_ != Phase::head) {
    arm(Phase::idle);
  }
}

void HttpConnection::dispatch(HttpRequest request) {
  const uint64_t number = ++requests_;
  version_minor_ = request.version_minor;
  try {
    if (!hooks_.handle) throw std::logic_error("the connection has no request handler");
    hooks_.handle(shared_from_this(), std::move(request));
  } catch (const std::exception& ex) {
    // Defence in depth: a handler's exception answers this request, never ends the process.
    if (hooks_.on_handler_failure) hooks_.on_handler_failure(ex.what());
    if (busy_ && requests_ == number && !closed_) {
      if (response_started_) {
        close();
      } else {
        answer_error({500, "internal error while handling the request", "internal_error", {}});
        done(false);
      }
    }
  }
}

void HttpConnection::flush() {
  if (out_.empty() || closed_) return;
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(out_.front()), [self](std::error_code ec, size_t) {
    self->writing_ = false;
    if (ec) return self->on_closed();
    self->out_.pop_front();
    if (!self->out_.empty()) {
      self->flush();
    } else if (self->close_after_write_) {
      self->end_after_write();
    }
  });
}

void HttpConnection::close_after_write() {
  close_after_write_ = true;
  if (!writing_) end_after_write();
}

void HttpConnection::end_after_write() {
  if (!lingering_ || read_eof_) return close();
  // Our side is done (FIN), the client's may not be: read and discard until it stops sending,
  // for kLingerMs at most, then close. Closing at once would reset the connection and the
  // client could lose the answer before reading it.
  std::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm(Phase::linger);
}

void HttpConnection::close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  timer_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (hooks_.on_close) hooks_.on_close();
}

// The peer is gone (reset, or a write failed): cancel what it asked for.
void HttpConnection::on_closed() {
  if (abort_) abort_();
  abort_ = nullptr;
  close();
}

// The peer sent FIN: it will send nothing more, but may still read (a half-close).
void HttpConnection::on_eof() {
  read_eof_ = true;
  if (!busy_) {
    process(need_more());  // closes: no request can complete now
    return;
  }
  // A request is being answered. A client that only shut down its sending side still reads the
  // response; one that closed its socket answers the next bytes it gets with a reset. Before
  // the response starts, an interim "100 Continue" (which HTTP/1.1 clients skip) is what makes
  // a closed client reset now rather than after the whole answer.
  if (!response_started_ && version_minor_ >= 1) {  // never a 1xx to an HTTP/1.0 client
    out_.push_back("HTTP/1.1 100 Continue\r\n\r\n");
    if (!writing_) flush();
  }
  auto self = shared_from_this();
  socket_.async_wait(tcp::socket::wait_error, [self](std::error_code ec) {
    if (!ec && !self->closed_) self->on_closed();
  });
}

}  // namespace keel::net
