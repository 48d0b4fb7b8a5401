// A listening HTTP server's loop: one I/O thread that accepts connections and serves each with
// an HttpConnection (http_connection.h) built from the same options and hooks, until SIGINT,
// SIGTERM or stop(). Shared by the servers whose handlers need nothing more from the loop.
//
// Contract:
// - create() listens on host:port (listen_on's errors); port() then says which port.
// - run() serves on the calling thread and returns when stopped; stop() may be called from any
//   thread. io() is the loop's context (for a server that posts work back to it).
// - This header includes Asio: include it only where a server is assembled.
#pragma once

// A standard header before Asio: Asio decides whether to use aligned_alloc from macros the
// standard library defines, and every translation unit must decide the same way (a handler
// allocated in one and freed in another).
#include <memory>
#include <string>

#include <asio.hpp>

#include "core/result.h"
#include "net/http_connection.h"

namespace keel::net {

class HttpListener {
 public:
  [[nodiscard]] static Result<std::unique_ptr<HttpListener>> create(const std::string& host, uint16_t port,
                                                                   HttpConnectionOptions options,
                                                                   HttpConnectionHooks hooks);
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  asio::io_context& io() { return io_; }
  void run();
  void stop();

 private:
  HttpListener(HttpConnectionOptions options, HttpConnectionHooks hooks)
      : options_(std::move(options)), hooks_(std::move(hooks)) {}
  void accept();
  asio::io_context io_{1};
  asio::ip::tcp::acceptor acceptor_{io_};
  asio::signal_set signals_{io_};
  HttpConnectionOptions options_;
  HttpConnectionHooks hooks_;
};

}  // namespace keel::net
