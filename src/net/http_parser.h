// HTTP/1.1 requests for the servers: an incremental request parser that never trusts its input.
//
// Contract:
// - RequestParser::feed() accepts bytes as they arrive and reports complete requests one at a
//   time (pipelined requests wait in the buffer). Limits (request line, header count and size,
//   body size) are enforced as bytes arrive, so a hostile client cannot make the server buffer
//   more than the limits; a violation is a typed error with the HTTP status to answer (400,
//   413, 414, 431, 501, 505).
// - A head check (set_head_check) sees each request's head before any byte of its body is
//   taken, and may refuse it there (the server checks API keys this way).
// - Header names are matched case-insensitively; bodies need Content-Length (chunked request
//   bodies are refused with 411).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace keel::net {

struct HttpLimits {
  size_t max_request_line = 8192;
  size_t max_headers = 100;
  size_t max_header_bytes = 32768;
  size_t max_body_bytes = 4 << 20;
};

struct HttpRequest {
  std::string method;
  std::string target;  //!< as sent, e.g. "/v1/chat/completions?x=1"
  std::string path;    //!< target without the query
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  //!< names lower-cased
  std::string body;

  //! First header with this (lower-case) name.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  bool keep_alive() const;
};

struct HttpError {
  int status = 400;
  std::string message;
  std::string code;                  //!< stable machine code for the JSON error ("" when none)
  std::vector<std::string> headers;  //!< extra response header lines (e.g. WWW-Authenticate)
};

class RequestParser {
 public:
  explicit RequestParser(HttpLimits limits = {}) : limits_(limits) {}

  //! Called once per request when its head is complete, before any byte of its body is taken:
  //! an error refuses the request there (feed() or poll() returns it), so a request that
  //! will be refused anyway (no valid API key, unknown path) never makes the server hold its
  //! body. `head` has method, target, path, version and headers; its body is empty.
  using HeadCheck = std::function<std::optional<HttpError>(const HttpRequest& head)>;
  void set_head_check(HeadCheck check) { head_check_ = std::move(check); }

  //! A complete request, nullopt while more bytes are needed, or the error to answer (after
  //! which the parser must not be fed again).
  using Parse = Result<std::optional<HttpRequest>, HttpError>;
  //! Appends bytes and tries to complete a request.
  [[nodiscard]] Parse feed(std::string_view bytes);
  //! Appends bytes without trying (poll() next).
  void append(std::string_view bytes) { buffer_.append(bytes); }
  //! Tries to complete the next request from what is buffered (pipelined requests).
  [[nodiscard]] Parse poll();
  size_t buffered() const { return buffer_.size() - consumed_; }
  //! True between the end of a request's head and the end of its body.
  bool reading_body() const { return headers_done_; }

 private:
  std::optional<HttpError> read_head(std::string_view head);
  std::optional<HttpError> read_request_line(std::string_view line);
  std::optional<HttpError> read_headers(std::string_view lines);
  std::optional<HttpError> read_content_length();

  HttpLimits limits_;
  std::string buffer_;
  size_t consumed_ = 0;  //!< bytes at the front of buffer_ already taken
  HttpRequest current_;  //!< the request being read
  bool headers_done_ = false;
  size_t body_length_ = 0;
  HeadCheck head_check_;
};

}  // namespace keel::net
