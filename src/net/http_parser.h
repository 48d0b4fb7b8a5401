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
// - feed() and poll() are [[nodiscard]]: their state says whether a request, or an error to
//   answer, is waiting.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  //! an error refuses the request there (the parser reports it as error()), so a request that
  //! will be refused anyway (no valid API key, unknown path) never makes the server hold its
  //! body. `head` has method, target, path, version and headers; its body is empty.
  using HeadCheck = std::function<std::optional<HttpError>(const HttpRequest& head)>;
  void set_head_check(HeadCheck check) { head_check_ = std::move(check); }

  enum class State { need_more, request_ready, error };
  //! Appends bytes and tries to complete a request.
  [[nodiscard]] State feed(std::string_view bytes);
  //! Tries to complete the next request from what is buffered (after take()).
  [[nodiscard]] State poll();
  //! The completed request (valid when feed/poll returned request_ready); resets for the next.
  HttpRequest take();
  const HttpError& error() const { return error_; }
  size_t buffered() const { return buffer_.size() - consumed_; }
  //! True between the end of a request's head and the end of its body.
  bool reading_body() const { return headers_done_; }

 private:
  State fail(int status, std::string message);
  HttpLimits limits_;
  std::string buffer_;
  size_t consumed_ = 0;  //!< bytes at the front of buffer_ already taken
  HttpRequest current_;
  bool headers_done_ = false;
  size_t body_length_ = 0;
  HttpError error_;
  HeadCheck head_check_;
};

}  // namespace keel::net
