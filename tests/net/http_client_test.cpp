// The HTTP client (libcurl) against a real server on loopback run by the test: answers, streamed
// bodies without a ceiling, deadlines, size limits, refused connections, no redirects followed;
// and the egress allow-list, which refuses a destination before connecting and refuses an
// address its allowed host does not resolve to.
#include "net/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "core/egress_policy.h"
#include "support/test_support.h"

namespace keel::net {
namespace {

// A one-thread HTTP server: answers each connection with respond(request text).
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(int fd, const std::string& request)> respond)
      : respond_(std::move(respond)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(0x7f000001);
    socklen_t length = sizeof at;
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(listener_, reinterpret_cast<sockaddr*>(&at), sizeof at);
    listen(listener_, 16);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&at), &length);
    port_ = ntohs(at.sin_port);
    // Tests fork children (in_child) while this thread runs: a fork while it holds the
    // allocator's lock would leave the child deadlocked in its first malloc. So the thread
    // allocates nothing between accepts: everything of a request is freed before its connection
    // closes (the client's cue to go on), and the constructor returns only once the thread is
    // about to wait in accept().
    thread_ = std::thread([this] {
      ready_ = true;
      for (;;) {
        int fd = accept(listener_, nullptr, nullptr);
        if (fd < 0 || stop_) {
          if (fd >= 0) close(fd);
          return;
        }
        serve(fd);
        close(fd);
      }
    });
    while (!ready_) std::this_thread::yield();
  }
  ~LoopbackServer() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  void serve(int fd) {
    std::string request;
    char buffer[4096];
    // Up to the end of the headers, or whatever came within 300 ms (a TLS hello has no end of
    // headers).
    while (request.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 300) <= 0) break;
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    respond_(fd, request);
  }
  std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int port() const { return port_; }

 private:
  std::function<void(int, const std::string&)> respond_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, ready_{false};
  std::thread thread_;
};

void send_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

TEST(HttpClient, AnswersHeadersBodiesAndStreams) {
  LoopbackServer server([](int fd, const std::string& request) {
    if (request.rfind("POST /echo", 0) == 0) {
      send_all(fd, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Keel: yes\r\nConnection: close\r\n\r\nhello");
    } else if (request.rfind("GET /stream", 0) == 0) {
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int i = 0; i < 100; ++i) send_all(fd, "11\r\ndata: 0123456789\n\r\n");  // 17-byte events
      send_all(fd, "0\r\n\r\n");
    } else if (request.rfind("GET /moved", 0) == 0) {
      send_all(fd, "HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\nContent-Length: 0\r\n\r\n");
    } else {
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'));
    }
  });
  HttpClientRequest post;
  post.method = "POST";
  post.url = server.url("/echo");
  post.body = "{}";
  post.headers = {{"Content-Type", "application/json"}};
  auto r = http_fetch(post);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->header("x-keel"), "yes");

  // Streamed: every byte reaches on_data, and max_response_bytes does not apply.
  HttpClientRequest stream;
  stream.url = server.url("/stream");
  stream.max_response_bytes = 100;
  size_t streamed = 0;
  stream.on_data = [&](std::string_view piece) {
    streamed += piece.size();
    return true;
  };
  auto s = http_fetch(stream);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(streamed, 1700u);
  EXPECT_TRUE(s->body.empty());

  // Buffered: over the limit is resource_exhausted.
  HttpClientRequest big;
  big.url = server.url("/big");
  big.max_response_bytes = 100;
  EXPECT_EQ(http_fetch(big).status().code(), StatusCode::resource_exhausted);

  // A redirect is answered, not followed.
  HttpClientRequest moved;
  moved.url = server.url("/moved");
  auto m = http_fetch(moved);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->status, 302);
}

TEST(HttpClient, DeadlinesRefusalsAndBadUrls) {
  LoopbackServer silent([](int fd, const std::string&) {
    char byte;
    (void)read(fd, &byte, 1);  // says nothing until the client gives up
  });
  HttpClientRequest slow;
  slow.url = silent.url();
  slow.timeout_ms = 200;
  EXPECT_EQ(http_fetch(slow).status().code(), StatusCode::deadline_exceeded);

  int closed = silent.port();
  HttpClientRequest refused;
  {
    LoopbackServer gone([](int, const std::string&) {});
    closed = gone.port();
  }
  refused.url = "http://127.0.0.1:" + std::to_string(closed) + "/";
  EXPECT_EQ(http_fetch(refused).status().code(), StatusCode::unavailable);

  HttpClientRequest tls;  // TLS to a server that speaks plain HTTP: no handshake, no answer
  LoopbackServer plain([](int fd, const std::string&) { send_all(fd, "HTTP/1.1 200 OK\r\n\r\n"); });
  tls.url = "https://127.0.0.1:" + std::to_string(plain.port()) + "/";
  tls.timeout_ms = 2000;
  EXPECT_EQ(http_fetch(tls).status().code(), StatusCode::unavailable);

  HttpClientRequest ftp;
  ftp.url = "ftp://example.invalid/";
  EXPECT_EQ(http_fetch(ftp).status().code(), StatusCode::invalid_argument);
}

TEST(EgressPolicy, ListsCoverHostsPortsAndSubdomains) {
  const std::vector<std::string> allow = {"api.example", "otel.example:4317", "*.models.example"};
  EXPECT_TRUE(egress_list_allows(allow, "https://API.example/v1/chat"));
  EXPECT_TRUE(egress_list_allows(allow, "api.example:8080"));
  EXPECT_TRUE(egress_list_allows(allow, "http://otel.example:4317/v1/traces"));
  EXPECT_FALSE(egress_list_allows(allow, "http://otel.example/v1/traces")) << "port 80 is not 4317";
  EXPECT_TRUE(egress_list_allows(allow, "https://eu.models.example/"));
  EXPECT_FALSE(egress_list_allows(allow, "https://models.example/")) << "the suffix itself is not a subdomain";
  EXPECT_FALSE(egress_list_allows(allow, "https://api.example.evil/"));
  EXPECT_FALSE(egress_list_allows(allow, "https://user@evil.example/@api.example"));
  EXPECT_TRUE(egress_list_allows({"localhost:8443"}, "https://localhost:8443/"));
  EXPECT_TRUE(egress_list_allows({"example.org:443"}, "https://example.org/")) << "https's port is 443";
}

TEST(EgressPolicy, TheClientRefusesDestinationsOutsideTheList) {
  LoopbackServer server([](int fd, const std::string&) { send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); });
  const int port = server.port();
  int code = testing::in_child([port] {
    restrict_egress({"localhost:" + std::to_string(port)});
    HttpClientRequest allowed;
    allowed.url = "http://localhost:" + std::to_string(port) + "/";
    auto ok = http_fetch(allowed);
    if (!ok.ok() || ok->body != "ok") return 10;
    // The same server by another name, and another port of an allowed host: refused unsent.
    for (std::string url : {"http://127.0.0.1:" + std::to_string(port) + "/",
                            "http://localhost:" + std::to_string(port + 1) + "/"}) {
      HttpClientRequest other;
      other.url = url;
      auto r = http_fetch(other);
      if (r.status().code() != StatusCode::permission_denied) return 11;
      if (r.status().message().find("allow-list") == std::string::npos) return 12;
    }
    return 0;
  });
  EXPECT_EQ(code, 0);
  int empty = testing::in_child([port] {
    restrict_egress({});
    HttpClientRequest any;
    any.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    return http_fetch(any).status().code() == StatusCode::permission_denied ? 0 : 1;
  });
  EXPECT_EQ(empty, 0) << "an empty allow-list reaches nothing";
}

TEST(EgressPolicy, AnAddressTheAllowedNameDoesNotResolveToIsRefused) {
  sockaddr_in elsewhere{};
  elsewhere.sin_family = AF_INET;
  elsewhere.sin_port = htons(8443);
  elsewhere.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1
  sockaddr_in home = elsewhere;
  home.sin_addr.s_addr = htonl(0x7f000001);
  int code = testing::in_child([&] {
    restrict_egress({"localhost:8443"});
    const std::string url = "https://localhost:8443/v1";
    if (!egress_address_allowed(url, reinterpret_cast<sockaddr*>(&home), sizeof home)) return 10;
    if (egress_address_allowed(url, reinterpret_cast<sockaddr*>(&elsewhere), sizeof elsewhere)) return 11;
    sockaddr_in wrong_port = home;
    wrong_port.sin_port = htons(9000);
    if (egress_address_allowed(url, reinterpret_cast<sockaddr*>(&wrong_port), sizeof wrong_port)) return 12;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace keel::net
