#include "net/http_listener.h"

namespace keel::net {

Result<std::unique_ptr<HttpListener>> HttpListener::create(const std::string& host, uint16_t port,
                                                           HttpConnectionOptions options, HttpConnectionHooks hooks) {
  std::unique_ptr<HttpListener> l(new HttpListener(std::move(options), std::move(hooks)));
  KEEL_RETURN_IF_ERROR(listen_on(l->acceptor_, host, port));
  return l;
}

void HttpListener::accept() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    if (!ec) HttpConnection::start(std::move(socket), options_, hooks_);
    if (acceptor_.is_open()) accept();
  });
}

void HttpListener::run() {
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.async_wait([this](std::error_code ec, int) {
    if (!ec) io_.stop();
  });
  accept();
  io_.run();
}

void HttpListener::stop() {
  asio::post(io_, [this] { io_.stop(); });
}

}  // namespace keel::net
