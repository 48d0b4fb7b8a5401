#include "net/http_response.h"

#include <fmt/format.h>

namespace keel::net {

std::string_view http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          const std::vector<std::string>& extra_headers, bool keep_alive) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                                status, http_reason(status), content_type, body.size());
  if (!keep_alive) out += "Connection: close\r\n";
  for (const auto& h : extra_headers) out += h + "\r\n";
  out += "\r\n";
  out.append(body);
  return out;
}

std::string http_stream_head(int status, std::string_view content_type,
                             const std::vector<std::string>& extra_headers) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\nCache-Control: "
      "no-cache\r\n",
      status, http_reason(status), content_type);
  for (const auto& h : extra_headers) out += h + "\r\n";
  out += "\r\n";
  return out;
}

std::string http_chunk(std::string_view payload) {
  if (payload.empty()) return "0\r\n\r\n";
  return fmt::format("{:x}\r\n{}\r\n", payload.size(), payload);
}

std::string sse_event(std::string_view payload) {
  return fmt::format("data: {}\n\n", payload);
}

}  // namespace keel::net
