#include "core/http_client.h"

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

namespace keel {

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    return Status::invalid_argument(fmt::format("'{}' is not an http:// URL", url));
  }
  std::string_view rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::invalid_argument(fmt::format("'{}': unclosed '['", url));
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Status::invalid_argument(fmt::format("'{}': expected ':' after ']'", url));
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Status::invalid_argument(fmt::format("'{}' has no host", url));
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return Status::invalid_argument(fmt::format("'{}' has an invalid port", url));
    }
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

namespace {

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

Result<int> connect_to(const HttpUrl& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) return Status::unavailable(fmt::format("cannot resolve {}: {}", url.host, gai_strerror(rc)));
  std::string last_error = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int ready = poll(&p, 1, remaining_ms(deadline));
    int error = 0;
    socklen_t len = sizeof error;
    if (ready <= 0) {
      last_error = "timed out";
      close(fd);
      continue;
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      last_error = std::strerror(error);
      close(fd);
      continue;
    }
    freeaddrinfo(found);
    return fd;
  }
  freeaddrinfo(found);
  return Status::unavailable(fmt::format("cannot connect to {}:{}: {}", url.host, url.port, last_error));
}

}  // namespace

Result<HttpClientResponse> http_fetch(const HttpClientRequest& request) {
  KEEL_ASSIGN_OR_RETURN(HttpUrl url, parse_http_url(request.url));
  const auto deadline = Clock::now() + std::chrono::milliseconds(request.timeout_ms);
  KEEL_ASSIGN_OR_RETURN(int raw_fd, connect_to(url, deadline));
  Socket sock(raw_fd);
  bool ipv6 = url.host.find(':') != std::string::npos;
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: {}{}{}:{}\r\nConnection: close\r\n", request.method, url.path,
                                 ipv6 ? "[" : "", url.host, ipv6 ? "]" : "", url.port);
  for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    head += fmt::format("Content-Length: {}\r\n", request.body.size());
  }
  std::string out = head + "\r\n" + request.body;
  // A server may answer before it has read the whole request (413 for a huge body) and close:
  // a failed send then still leaves its response to read.
  std::string send_error;
  for (size_t sent = 0; sent < out.size();) {
    pollfd p{sock.fd(), POLLOUT | POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) <= 0) return Status::deadline_exceeded("the request timed out while sending");
    if ((p.revents & POLLIN) && !(p.revents & POLLOUT)) {
      send_error = "the server answered before the request was sent";
      break;
    }
    ssize_t n = send(sock.fd(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      send_error = fmt::format("the connection closed while sending: {}", std::strerror(errno));
      break;
    }
    sent += static_cast<size_t>(n);
  }

  HttpClientResponse response;
  std::string buffer;
  size_t head_end = std::string::npos;
  bool chunked = false;
  int64_t content_length = -1;
  size_t body_start = 0, chunk_pos = 0, delivered = 0;
  bool done = false;
  std::string body;

  // Moves decoded body bytes out of `buffer` as they become complete.
  auto decode = [&]() -> Status {
    if (!chunked) {
      size_t available = buffer.size() - body_start;
      if (content_length >= 0) {
        available = std::min<size_t>(available, static_cast<size_t>(content_length));
        done = available == static_cast<size_t>(content_length);
      }
      if (available > delivered) {
        std::string_view piece(buffer.data() + body_start + delivered, available - delivered);
        if (request.on_data) request.on_data(piece); else body.append(piece);
        delivered = available;
      }
      return Status();
    }
    for (;;) {
      size_t line_end = buffer.find("\r\n", chunk_pos);
      if (line_end == std::string::npos) return Status();
      size_t size = 0;
      auto [ptr, ec] = std::from_chars(buffer.data() + chunk_pos, buffer.data() + line_end, size, 16);
      if (ec != std::errc() || ptr == buffer.data() + chunk_pos) return Status::data_loss("malformed chunked encoding");
      if (size == 0) {
        done = true;
        return Status();
      }
      if (buffer.size() < line_end + 2 + size + 2) return Status();
      std::string_view piece(buffer.data() + line_end + 2, size);
      if (request.on_data) request.on_data(piece); else body.append(piece);
      chunk_pos = line_end + 2 + size + 2;
    }
  };

  char chunk[65536];
  while (!done) {
    pollfd p{sock.fd(), POLLIN, 0};
    int ready = poll(&p, 1, remaining_ms(deadline));
    if (ready <= 0) return Status::deadline_exceeded(fmt::format("no complete response within {} ms", request.timeout_ms));
    ssize_t n = recv(sock.fd(), chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0 && head_end == std::string::npos) {
      return Status::unavailable(send_error.empty() ? fmt::format("the connection failed: {}", std::strerror(errno)) : send_error);
    }
    if (n < 0) n = 0;  // reset after a complete head: treat as the end of the connection
    if (n == 0) {
      if (head_end == std::string::npos) {
        return Status::unavailable(send_error.empty() ? "the connection closed before a response" : send_error);
      }
      if (chunked || content_length >= 0) return Status::data_loss("the connection closed before the response ended");
      break;  // body to the end of the connection
    }
    buffer.append(chunk, static_cast<size_t>(n));
    if (buffer.size() > request.max_response_bytes) {
      return Status::resource_exhausted(fmt::format("the response exceeds {} bytes", request.max_response_bytes));
    }
    if (head_end == std::string::npos) {
      head_end = buffer.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      std::string_view h(buffer.data(), head_end);
      if (h.size() < 12 || h.substr(0, 5) != "HTTP/") return Status::data_loss("the response is not HTTP");
      response.status = std::atoi(buffer.c_str() + 9);
      size_t pos = h.find("\r\n");
      while (pos != std::string_view::npos && pos < h.size()) {
        size_t next = h.find("\r\n", pos + 2);
        std::string_view line = h.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
          std::string name(line.substr(0, colon));
          for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          std::string_view value = line.substr(colon + 1);
          while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
          while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
          response.headers[name] = std::string(value);
        }
        pos = next;
      }
      chunked = response.header("transfer-encoding").find("chunked") != std::string::npos;
      if (!chunked && !response.header("content-length").empty()) {
        content_length = std::atoll(response.header("content-length").c_str());
      }
      body_start = chunk_pos = head_end + 4;
      if (request.method == "HEAD" || response.status == 204 || response.status == 304) break;
    }
    KEEL_RETURN_IF_ERROR(decode());
  }
  response.body = std::move(body);
  return response;
}

}  // namespace keel
