// A small blocking HTTP/1.1 client for calls Keel makes itself (a model endpoint, an MCP
// server) and for tests: one request per connection, http:// only, bounded in time and size.
//
// Contract:
// - Connection failures are `unavailable` (the peer is down: retry later), a request that
//   passes its deadline is `deadline_exceeded` (the outcome is unknown), a malformed or
//   oversized response is `data_loss`/`resource_exhausted`; never a crash or an exception.
// - Bodies are read by Content-Length, chunked encoding, or to the end of the connection.
// - on_data, when given, receives body bytes as they arrive (for Server-Sent Events) and the
//   response body is then left empty.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel {

struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string path = "/";  //!< with the query
};

//! Parses "http://host[:port][/path]" ("[::1]" for IPv6 hosts).
[[nodiscard]] Result<HttpUrl> parse_http_url(std::string_view url);

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t timeout_ms = 30000;
  size_t max_response_bytes = 64 << 20;
  std::function<void(std::string_view)> on_data;
};

struct HttpClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  //!< names lower-cased; repeated names keep the last
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

[[nodiscard]] Result<HttpClientResponse> http_fetch(const HttpClientRequest& request);

}  // namespace keel
