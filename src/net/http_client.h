// The one HTTP client for calls Keel makes itself (a model endpoint, an outside MCP server, a
// collector) and for tests: libcurl underneath, http:// and https:// (TLS with the system's
// certificate store), bounded in time, held to the egress allow-list (egress_policy.h).
//
// Contract:
// - A destination the egress policy refuses is `permission_denied` before any connection.
// - Connection failures (refused, unresolvable, TLS) are `unavailable` (the peer is down or not
//   who it should be: retry later or fix the URL); a request that passes its deadline is
//   `deadline_exceeded` (the outcome is unknown); a response over max_response_bytes is
//   `resource_exhausted`; a malformed one `data_loss`. Never a crash or an exception.
// - Redirects are not followed and proxy settings from the environment are ignored (both would
//   take the request somewhere the allow-list did not say).
// - on_data, when given, receives body bytes as they arrive (Server-Sent Events), without a size
//   ceiling, and the response body is then left empty; returning false from it stops the request.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::net {

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t timeout_ms = 30000;          //!< the whole request, connecting included
  int64_t connect_timeout_ms = 10000;  //!< the connection alone (within timeout_ms)
  size_t max_response_bytes = 64 << 20;
  std::function<bool(std::string_view)> on_data;
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

}  // namespace keel::net
