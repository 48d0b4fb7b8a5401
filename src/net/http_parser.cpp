#include "net/http_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace keel::net {

std::optional<std::string_view> HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return std::string_view(v);
  }
  return std::nullopt;
}

bool HttpRequest::keep_alive() const {
  auto c = header("connection");
  std::string value = c ? std::string(*c) : std::string();
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  if (version_minor == 0) return value.find("keep-alive") != std::string::npos;
  return value.find("close") == std::string::npos;
}

namespace {

bool is_token_char(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

namespace {

HttpError failure(int status, std::string message) { return {status, std::move(message), {}, {}}; }

}  // namespace

RequestParser::Parse RequestParser::feed(std::string_view bytes) {
  append(bytes);
  return poll();
}

RequestParser::Parse RequestParser::poll() {
  // What was taken is dropped from the front in bulk, not request by request: with many
  // pipelined requests buffered, erasing each one's bytes would move all the rest every time.
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  std::string_view buf = std::string_view(buffer_).substr(consumed_);
  if (!headers_done_) {
    const size_t end = buf.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      // Bound what an incomplete head may hold.
      if (buf.find("\r\n") == std::string_view::npos && buf.size() > limits_.max_request_line)
        return failure(414, "request line too long");
      if (buf.size() > limits_.max_request_line + limits_.max_header_bytes)
        return failure(431, "request headers too large");
      return std::optional<HttpRequest>();
    }
    if (auto refused = read_head(buf.substr(0, end))) return std::move(*refused);
    consumed_ += end + 4;
    buf.remove_prefix(end + 4);
    headers_done_ = true;
    if (head_check_) {
      if (std::optional<HttpError> refused = head_check_(current_)) return std::move(*refused);
    }
  }
  if (buf.size() < body_length_) return std::optional<HttpRequest>();
  current_.body.assign(buf.substr(0, body_length_));
  consumed_ += body_length_;
  HttpRequest r = std::move(current_);
  current_ = HttpRequest{};
  headers_done_ = false;
  body_length_ = 0;
  return std::optional<HttpRequest>(std::move(r));
}

// The head without its blank line: the request line, the headers, the body's length.
std::optional<HttpError> RequestParser::read_head(std::string_view head) {
  const size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  if (line.size() > limits_.max_request_line) return failure(414, "request line too long");
  if (head.size() - std::min(head.size(), line.size()) > limits_.max_header_bytes)
    return failure(431, "request headers too large");
  if (auto refused = read_request_line(line)) return refused;
  const size_t headers_at = line_end == std::string_view::npos ? head.size() : line_end + 2;
  if (auto refused = read_headers(head.substr(headers_at))) return refused;
  return read_content_length();
}

// METHOD SP TARGET SP HTTP/1.x
std::optional<HttpError> RequestParser::read_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return failure(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1),
                         target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                         version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(),
                                     [](unsigned char c) { return std::isupper(c); })) {
    return failure(400, "malformed method");
  }
  if (target.empty() || target[0] != '/')
    return failure(400, "the target must be an absolute path");
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return failure(400, "invalid character in the target");
  }
  if (version == "HTTP/1.1") {
    current_.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    current_.version_minor = 0;
  } else {
    return failure(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  }
  current_.method.assign(method);
  current_.target.assign(target);
  current_.path.assign(target.substr(0, target.find('?')));
  return std::nullopt;
}

// "Name: value" lines; names are tokens (kept lower-case), values have no control characters.
std::optional<HttpError> RequestParser::read_headers(std::string_view lines) {
  current_.headers.clear();
  size_t pos = 0;
  while (pos < lines.size()) {
    const size_t eol = lines.find("\r\n", pos);
    const std::string_view h =
        lines.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? lines.size() : eol + 2;
    if (h.empty()) continue;
    if (h[0] == ' ' || h[0] == '\t') return failure(400, "obsolete header folding is not accepted");
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return failure(400, "malformed header");
    std::string name(h.substr(0, colon));
    if (!std::all_of(name.begin(), name.end(), [](unsigned char c) { return is_token_char(c); }))
      return failure(400, "malformed header name");
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    const std::string_view value = trim(h.substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        return failure(400, "invalid character in a header value");
    }
    current_.headers.emplace_back(std::move(name), std::string(value));
    if (current_.headers.size() > limits_.max_headers) return failure(431, "too many headers");
  }
  return std::nullopt;
}

// The body's length: Content-Length only (repeated ones must agree), within the limit.
std::optional<HttpError> RequestParser::read_content_length() {
  if (current_.header("transfer-encoding"))
    return failure(411, "chunked request bodies are not accepted; send Content-Length");
  body_length_ = 0;
  int lengths = 0;
  for (const auto& [k, v] : current_.headers) {
    if (k != "content-length") continue;
    ++lengths;
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || ptr != v.data() + v.size())
      return failure(400, "malformed Content-Length");
    if (lengths > 1 && n != body_length_) return failure(400, "conflicting Content-Length headers");
    if (n > limits_.max_body_bytes) {
      return failure(
          413, fmt::format("the body is {} bytes; the limit is {}", n, limits_.max_body_bytes));
    }
    body_length_ = static_cast<size_t>(n);
  }
  return std::nullopt;
}

}  // namespace keel::net
