#include "apps/keel/loadgen.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <memory>

#include "core/json.h"
#include "core/statistics.h"

namespace keel::app {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kWords[] = {
    "the", "river", "carried", "small", "boats", "past", "old", "stone", "houses", "while", "children",
    "watched", "from", "bridge", "a", "bright", "morning", "light", "fell", "across", "quiet", "fields",
    "and", "farmers", "walked", "slowly", "toward", "market", "with", "baskets", "of", "apples"};

struct Url {
  std::string host;
  uint16_t port = 80;
};

Result<Url> parse_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    return Status::invalid_argument("only http:// URLs are supported");
  }
  rest = rest.substr(0, rest.find('/'));
  Url u;
  size_t colon = rest.rfind(':');
  u.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) u.port = static_cast<uint16_t>(std::stoi(rest.substr(colon + 1)));
  if (u.host == "localhost") u.host = "127.0.0.1";
  std::error_code ec;
  auto address = asio::ip::make_address(u.host, ec);
  if (ec || !address.is_loopback()) {
    return Status::permission_denied(fmt::format("loadgen only targets loopback addresses, not '{}'", u.host));
  }
  return u;
}

std::string make_prompt(const LoadgenOptions& o, int64_t index) {
  std::string p;
  for (int64_t i = 0; i < o.prompt_tokens; ++i) {
    // The shared prefix is the same for all; the rest varies with the request index.
    size_t w = i < o.shared_prefix ? static_cast<size_t>(i * 7) : static_cast<size_t>(i * 13 + index * 31);
    if (!p.empty()) p += ' ';
    p += kWords[w % std::size(kWords)];
  }
  return p;
}

struct Shared {
  LoadgenOptions options;
  tcp::endpoint endpoint;
  int64_t next = 0;
  Clock::time_point start, deadline;
  LoadgenReport report;
  std::vector<double> ttft, tpot, e2e;
  int64_t open_streams = 0;
  int64_t met = 0;
};

// One client: one request at a time, parsed incrementally (status line, headers, then either
// a Content-Length body or a chunked SSE stream).
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, Shared& s) : socket_(io), s_(s) {}

  void next() {
    if (s_.next >= s_.options.requests || Clock::now() >= s_.deadline) return;
    index_ = s_.next++;
    ++s_.report.sent;
    reset();
    auto self = shared_from_this();
    socket_ = tcp::socket(socket_.get_executor());
    socket_.async_connect(s_.endpoint, [self](std::error_code ec) {
      if (ec) return self->fail();
      self->send();
    });
  }

 private:
  void reset() {
    buffer_.clear();
    headers_done_ = false;
    status_ = 0;
    chunked_ = false;
    content_length_ = -1;
    body_.clear();
    first_token_ = {};
    last_token_ = {};
    chunks_ = 0;
    usage_completion_ = -1;
    counted_stream_ = false;
  }

  void send() {
    Json body = {{"model", s_.options.model}, {"max_tokens", s_.options.max_tokens}, {"stream", true},
                 {"temperature", 0.7}, {"stream_options", {{"include_usage", true}}}};
    std::string prompt = make_prompt(s_.options, index_);
    if (s_.options.chat) {
      body["messages"] = Json::array({{{"role", "user"}, {"content", prompt}}});
    } else {
      body["prompt"] = prompt;
    }
    std::string payload = dump_json(body);
    request_ = fmt::format("POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: {}\r\nConnection: close\r\n{}\r\n{}",
                           s_.options.chat ? "/v1/chat/completions" : "/v1/completions", payload.size(),
                           s_.options.api_key.empty() ? "" : fmt::format("Authorization: Bearer {}\r\n", s_.options.api_key),
                           payload);
    sent_at_ = Clock::now();
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(request_), [self](std::error_code ec, size_t) {
      if (ec) return self->fail();
      self->read();
    });
  }

  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(chunk_), [self](std::error_code ec, size_t n) {
      if (n > 0) self->consume(std::string_view(self->chunk_.data(), n));
      if (ec) return self->complete();
      self->read();
    });
  }

  void consume(std::string_view data) {
    buffer_ += data;
    if (!headers_done_) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string head = buffer_.substr(0, end);
      buffer_.erase(0, end + 4);
      headers_done_ = true;
      if (head.size() > 12) status_ = std::atoi(head.c_str() + 9);
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      chunked_ = lower.find("transfer-encoding: chunked") != std::string::npos;
      if (auto p = lower.find("retry-after:"); p != std::string::npos) {
        s_.report.retry_after_s.push_back(std::atoi(lower.c_str() + p + 12));
      }
      if (chunked_ && status_ == 200) {
        counted_stream_ = true;
        s_.report.max_concurrent_streams = std::max(s_.report.max_concurrent_streams, ++s_.open_streams);
      }
    }
    if (!chunked_) {
      body_ += buffer_;
      buffer_.clear();
      return;
    }
    // Chunked body: size line, data, CRLF.
    for (;;) {
      size_t line = buffer_.find("\r\n");
      if (line == std::string::npos) return;
      size_t size = std::strtoul(buffer_.c_str(), nullptr, 16);
      if (buffer_.size() < line + 2 + size + 2) return;
      sse_ += buffer_.substr(line + 2, size);
      buffer_.erase(0, line + 2 + size + 2);
      parse_sse();
      if (size == 0) return;
    }
  }

  void parse_sse() {
    for (;;) {
      size_t end = sse_.find("\n\n");
      if (end == std::string::npos) return;
      std::string event = sse_.substr(0, end);
      sse_.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      std::string payload = event.substr(6);
      if (payload == "[DONE]") continue;
      auto j = parse_json(payload);
      if (!j.ok()) continue;
      if (j->contains("usage") && (*j)["usage"].is_object()) {
        usage_completion_ = (*j)["usage"].value("completion_tokens", 0);
        s_.report.prompt_tokens += (*j)["usage"].value("prompt_tokens", 0);
        if ((*j)["usage"].contains("prompt_tokens_details")) {
          s_.report.cached_tokens += (*j)["usage"]["prompt_tokens_details"].value("cached_tokens", 0);
        }
      }
      const auto& choices = (*j)["choices"];
      if (!choices.is_array() || choices.empty()) continue;
      const auto& c = choices[0];
      std::string text = c.contains("text") ? c.value("text", "")
                         : c.contains("delta") && c["delta"].contains("content") && c["delta"]["content"].is_string()
                             ? c["delta"]["content"].get<std::string>()
                             : "";
      if (!text.empty()) {
        auto now = Clock::now();
        if (first_token_ == Clock::time_point{}) first_token_ = now;
        last_token_ = now;
        ++chunks_;
      }
    }
  }

  void complete() {
    if (counted_stream_) --s_.open_streams;
    s_.report.status_counts[status_]++;
    if (status_ == 200) {
      ++s_.report.completed;
      int64_t tokens = usage_completion_ >= 0 ? usage_completion_ : chunks_;
      s_.report.generated_tokens += tokens;
      auto end = last_token_ == Clock::time_point{} ? Clock::now() : last_token_;
      double ttft = first_token_ == Clock::time_point{} ? 0 : std::chrono::duration<double, std::milli>(first_token_ - sent_at_).count();
      double tpot = tokens > 1 ? std::chrono::duration<double, std::milli>(end - first_token_).count() / (tokens - 1) : 0;
      s_.ttft.push_back(ttft);
      s_.tpot.push_back(tpot);
      s_.e2e.push_back(std::chrono::duration<double, std::milli>(end - sent_at_).count());
      s_.met += ttft <= s_.options.slo_ttft_ms && tpot <= s_.options.slo_tpot_ms;
    }
    std::error_code ignored;
    socket_.close(ignored);
    next();
  }

  void fail() {
    s_.report.status_counts[0]++;
    std::error_code ignored;
    socket_.close(ignored);
    next();
  }

  tcp::socket socket_;
  Shared& s_;
  int64_t index_ = 0;
  std::string request_, buffer_, body_, sse_;
  std::array<char, 8192> chunk_{};
  bool headers_done_ = false, chunked_ = false, counted_stream_ = false;
  int status_ = 0;
  int64_t content_length_ = -1;
  Clock::time_point sent_at_, first_token_, last_token_;
  int64_t chunks_ = 0, usage_completion_ = -1;
};

// Blocking GET for the model list.
Result<std::string> first_model(const tcp::endpoint& endpoint, const std::string& api_key) {
  asio::io_context io;
  tcp::socket socket(io);
  std::error_code ec;
  socket.connect(endpoint, ec);
  if (ec) return Status::unavailable(fmt::format("cannot connect: {}", ec.message()));
  std::string request = fmt::format("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{}\r\n",
                                    api_key.empty() ? "" : fmt::format("Authorization: Bearer {}\r\n", api_key));
  asio::write(socket, asio::buffer(request), ec);
  std::string response;
  std::array<char, 4096> buffer{};
  for (;;) {
    size_t n = socket.read_some(asio::buffer(buffer), ec);
    response.append(buffer.data(), n);
    if (ec) break;
  }
  size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return Status::unavailable("no answer from /v1/models");
  auto j = parse_json(response.substr(body + 4));
  if (!j.ok() || !(*j).contains("data") || (*j)["data"].empty()) return Status::unavailable("/v1/models lists no model");
  return (*j)["data"][0]["id"].get<std::string>();
}

}  // namespace

Result<LoadgenReport> run_loadgen(const LoadgenOptions& o) {
  KEEL_ASSIGN_OR_RETURN(Url url, parse_url(o.url));
  if (o.concurrency < 1 || o.requests < 1) return Status::invalid_argument("concurrency and requests must be positive");
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  Shared s;
  s.options = o;
  s.endpoint = tcp::endpoint(asio::ip::make_address(url.host), url.port);
  if (s.options.model.empty()) {
    KEEL_ASSIGN_OR_RETURN(s.options.model, first_model(s.endpoint, o.api_key));
  }
  s.options.shared_prefix = std::min(o.shared_prefix, o.prompt_tokens);
  asio::io_context io(1);
  s.start = Clock::now();
  s.deadline = s.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.time_limit_s));
  std::vector<std::shared_ptr<Client>> clients;
  for (int i = 0; i < o.concurrency; ++i) {
    clients.push_back(std::make_shared<Client>(io, s));
    clients.back()->next();
  }
  io.run();
  LoadgenReport r = s.report;
  r.seconds = std::chrono::duration<double>(Clock::now() - s.start).count();
  r.tokens_per_s = r.seconds > 0 ? r.generated_tokens / r.seconds : 0;
  r.ttft_p50_ms = percentile(s.ttft, 0.5);
  r.ttft_p95_ms = percentile(s.ttft, 0.95);
  r.ttft_p99_ms = percentile(s.ttft, 0.99);
  r.tpot_p50_ms = percentile(s.tpot, 0.5);
  r.tpot_p95_ms = percentile(s.tpot, 0.95);
  r.tpot_p99_ms = percentile(s.tpot, 0.99);
  r.e2e_p50_ms = percentile(s.e2e, 0.5);
  r.e2e_p99_ms = percentile(s.e2e, 0.99);
  r.goodput = r.completed ? static_cast<double>(s.met) / r.completed : 0;
  return r;
}

}  // namespace keel::app
