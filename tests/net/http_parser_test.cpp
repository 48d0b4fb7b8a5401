// The HTTP/1.1 request parser against well-formed, split, pipelined and hostile input, and the
// response/SSE framing.
#include <gtest/gtest.h>

#include "net/http_parser.h"
#include "net/http_response.h"

namespace keel::net {
namespace {

enum class State { need_more, request_ready, error };

State state_of(const RequestParser::Parse& parse) {
  if (!parse.ok()) return State::error;
  return parse->has_value() ? State::request_ready : State::need_more;
}

// The request a parse completed (the test fails when there is none).
HttpRequest request_of(RequestParser::Parse parse) {
  EXPECT_EQ(state_of(parse), State::request_ready);
  return parse.ok() && parse->has_value() ? std::move(**parse) : HttpRequest{};
}

TEST(RequestParser, ParsesARequestWithABody) {
  RequestParser p;
  HttpRequest r = request_of(
      p.feed("POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
             "Content-Length: 7\r\n\r\n{\"a\":1}"));
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/completions?x=1");
  EXPECT_EQ(r.path, "/v1/completions");
  EXPECT_EQ(r.body, "{\"a\":1}");
  ASSERT_TRUE(r.header("content-type"));
  EXPECT_EQ(*r.header("content-type"), "application/json");
  EXPECT_TRUE(r.keep_alive());
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(RequestParser, AcceptsBytesOneAtATime) {
  const std::string raw = "POST /a HTTP/1.1\r\nCONTENT-length: 3\r\nConnection: close\r\n\r\nabc";
  RequestParser p;
  for (size_t i = 0; i + 1 < raw.size(); ++i) ASSERT_EQ(state_of(p.feed(raw.substr(i, 1))), State::need_more) << i;
  HttpRequest r = request_of(p.feed(raw.substr(raw.size() - 1)));
  EXPECT_EQ(r.body, "abc");
  EXPECT_FALSE(r.keep_alive());
}

TEST(RequestParser, PipelinedRequestsComeOutInOrder) {
  RequestParser p;
  EXPECT_EQ(request_of(p.feed("GET /one HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\n\r\nGET /thr")).path, "/one");
  EXPECT_EQ(request_of(p.poll()).path, "/two");
  EXPECT_EQ(state_of(p.poll()), State::need_more);
  EXPECT_EQ(request_of(p.feed("ee HTTP/1.1\r\n\r\n")).path, "/three");
}

TEST(RequestParser, Http10ClosesByDefault) {
  RequestParser p;
  EXPECT_FALSE(request_of(p.feed("GET / HTTP/1.0\r\n\r\n")).keep_alive());
}

struct BadCase {
  std::string raw;
  int status;
};

TEST(RequestParser, RefusesMalformedAndOversizedInputWithTheRightStatus) {
  HttpLimits limits;
  limits.max_request_line = 64;
  limits.max_headers = 3;
  limits.max_header_bytes = 256;
  limits.max_body_bytes = 10;
  const std::vector<BadCase> cases = {
      {"GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"GET /" + std::string(100, 'a'), 414},  // refused before the line ends
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\nA: " + std::string(300, 'x') + "\r\n\r\n", 431},
      {"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.1\r\n\r\n", 505},
      {"GET relative HTTP/1.1\r\n\r\n", 400},
      {"GET /a b HTTP/1.1\r\n\r\n", 400},
      {"G\x01T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: bad\x01value\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    RequestParser p(limits);
    auto parse = p.feed(c.raw);
    ASSERT_EQ(state_of(parse), State::error) << c.raw;
    EXPECT_EQ(parse.error().status, c.status) << c.raw << ": " << parse.error().message;
    EXPECT_FALSE(parse.error().message.empty());
  }
}

TEST(RequestParser, BuffersNoMoreThanTheLimitsAllow) {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  RequestParser p(limits);
  std::string headers = "GET / HTTP/1.1\r\n";
  State s = state_of(p.feed(headers));
  for (int i = 0; i < 1000 && s == State::need_more; ++i)
    s = state_of(p.feed("X-Filler: " + std::string(50, 'y') + "\r\n"));
  EXPECT_EQ(s, State::error);
  // The head may hold a request line and the header bytes, plus the last feed.
  EXPECT_LE(p.buffered(), limits.max_request_line + limits.max_header_bytes + 64);
}

TEST(RequestParser, TheHeadCheckRefusesBeforeAnyBodyIsTaken) {
  RequestParser p;
  int checks = 0;
  p.set_head_check([&](const HttpRequest& head) -> std::optional<HttpError> {
    ++checks;
    EXPECT_TRUE(head.body.empty());
    if (!head.header("authorization")) return HttpError{401, "no key", "invalid_api_key", {"WWW-Authenticate: Bearer"}};
    return std::nullopt;
  });
  // Authorized: the check passes and the body is read as usual.
  State s = state_of(p.feed("POST /v1/x HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: 4\r\n\r\nab"));
  EXPECT_EQ(s, State::need_more);
  EXPECT_TRUE(p.reading_body());
  EXPECT_EQ(request_of(p.feed("cd")).body, "abcd");
  EXPECT_FALSE(p.reading_body());
  EXPECT_EQ(checks, 1);
  // Not authorized: refused on the head, though 4 MiB are announced and none has arrived.
  RequestParser q;
  q.set_head_check([](const HttpRequest& head) -> std::optional<HttpError> {
    if (!head.header("authorization")) return HttpError{401, "no key", "invalid_api_key", {"WWW-Authenticate: Bearer"}};
    return std::nullopt;
  });
  auto refused = q.feed("POST /v1/x HTTP/1.1\r\nContent-Length: 4194304\r\n\r\n");
  ASSERT_EQ(state_of(refused), State::error);
  EXPECT_EQ(refused.error().status, 401);
  EXPECT_EQ(refused.error().code, "invalid_api_key");
  EXPECT_EQ(refused.error().headers, std::vector<std::string>{"WWW-Authenticate: Bearer"});
}

TEST(HttpFraming, ResponsesChunksAndEvents) {
  std::string r = http_response(429, "application/json", "{}", {"Retry-After: 3"}, false);
  EXPECT_EQ(r.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_NE(r.find("Retry-After: 3\r\n"), std::string::npos);
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 6), "\r\n\r\n{}");
  std::string head = http_stream_head(200, "text/event-stream");
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(http_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(http_chunk(std::string(26, 'a')).substr(0, 4), "1a\r\n");
  EXPECT_EQ(http_chunk(""), "0\r\n\r\n");
  EXPECT_EQ(sse_event("{\"a\":1}"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(http_reason(503), "Service Unavailable");
}

}  // namespace
}  // namespace keel::net
