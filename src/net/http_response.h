// HTTP/1.1 response framing for the servers: complete responses with Content-Length, chunked
// streams, and Server-Sent Events as the OpenAI API sends them ("data: <json>\n\n").
//
// Contract: pure functions of their arguments; header lines are passed without CRLF and are
// written as given (the caller is trusted: nothing a client sent goes in unchecked).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keel::net {

std::string_view http_reason(int status);

//! A complete response with Content-Length. `extra_headers` lines end without CRLF.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          const std::vector<std::string>& extra_headers = {},
                          bool keep_alive = true);
//! Head of a chunked response (for SSE and other streams).
std::string http_stream_head(int status, std::string_view content_type,
                             const std::vector<std::string>& extra_headers = {});
//! One chunk of a chunked body; an empty payload gives the terminating chunk.
std::string http_chunk(std::string_view payload);
//! "data: <payload>\n\n" (payload must not contain a blank line).
std::string sse_event(std::string_view payload);

}  // namespace keel::net
