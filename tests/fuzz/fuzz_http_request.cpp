// Fuzz target: the HTTP/1.1 request parser (keel serve, keel mcp serve), fed whole and in
// small pieces, under tight limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::net::HttpLimits limits;
  limits.max_request_line = 256;
  limits.max_headers = 8;
  limits.max_header_bytes = 512;
  limits.max_body_bytes = 1024;
  for (size_t piece : {size_t{1} << 20, size_t{7}, size_t{1}}) {
    keel::net::RequestParser p(limits);
    bool failed = false;
    for (size_t at = 0; at < text.size() && !failed; at += piece) {
      auto parse = p.feed(text.substr(at, piece));
      while (parse.ok() && parse->has_value()) {
        keel::net::HttpRequest r = std::move(**parse);
        (void)r.keep_alive();
        (void)r.header("content-type");
        parse = p.poll();
      }
      failed = !parse.ok();
    }
  }
  return 0;
}
