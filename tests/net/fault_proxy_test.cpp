// The fault-injecting proxy against a real echo server on loopback: bytes pass unchanged, delay
// and loss stall them, a reset reaches the client as RST after exactly the bytes allowed, a
// half-open link holds bytes without closing and delivers them when it heals, and a refusing
// proxy resets new connections.
#include "net/fault_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace keel::net {
namespace {

// Echoes every byte back, one connection at a time.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(0x7f000001);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at);
    listen(fd_, 16);
    socklen_t len = sizeof at;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &len);
    port_ = ntohs(at.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[8192];
        for (ssize_t n; (n = read(c, buf, sizeof buf)) > 0;)
          if (write(c, buf, static_cast<size_t>(n)) != n) break;
        close(c);
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(port);
  at.sin_addr.s_addr = htonl(0x7f000001);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  return fd;
}

// Reads exactly n bytes within timeout_ms; returns what came (fewer on timeout, EOF or error;
// *error gets errno on a failed read).
std::string read_n(int fd, size_t n, int timeout_ms, int* error = nullptr) {
  std::string out;
  char buf[8192];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t r = read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (r < 0 && error) *error = errno;
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

TEST(FaultProxy, ForwardsBytesUnchangedBothWays) {
  EchoServer echo;
  auto proxy = FaultProxy::start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().to_string();
  int fd = connect_to((*proxy)->port());
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  std::thread writer([&] { ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size())); });
  EXPECT_EQ(read_n(fd, data.size(), 5000), data);
  writer.join();
  close(fd);
  EXPECT_EQ((*proxy)->stats().connections, 1);
  // The count follows each write: the client may have read the last bytes a moment before.
  EXPECT_TRUE(testing::poll_until([&] { return (*proxy)->stats().bytes >= 2 * 100000; }, 5000));
}

TEST(FaultProxy, DelayAndLossStallEachChunk) {
  EchoServer echo;
  auto proxy = FaultProxy::start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok());
  int fd = connect_to((*proxy)->port());
  FaultSettings slow;
  slow.delay_ms = 60;
  (*proxy)->set(slow);
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(write(fd, "ping", 4), 4);
  EXPECT_EQ(read_n(fd, 4, 3000), "ping");
  EXPECT_GE(ms_since(start), 120);  // there and back, each chunk held 60 ms
  FaultSettings lossy;
  lossy.loss = 1.0;
  lossy.retransmit_ms = 40;
  (*proxy)->set(lossy);
  start = std::chrono::steady_clock::now();
  ASSERT_EQ(write(fd, "pong", 4), 4);
  EXPECT_EQ(read_n(fd, 4, 3000), "pong");  // late, never lost: TCP delivers
  EXPECT_GE(ms_since(start), 40 + 80);     // the second loss in a row waits twice as long
  EXPECT_EQ((*proxy)->stats().losses, 2);
  close(fd);
}

TEST(FaultProxy, AResetReachesTheClientAsRstAfterExactlyTheBytesAllowed) {
  EchoServer echo;
  auto proxy = FaultProxy::start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok());
  FaultSettings s;
  s.reset_after_bytes = 6;
  (*proxy)->set(s);
  int fd = connect_to((*proxy)->port());
  ASSERT_EQ(write(fd, "0123456789", 10), 10);
  int error = 0;
  std::string got = read_n(fd, 10, 3000, &error);
  EXPECT_LT(got.size(), 10u);
  EXPECT_EQ(error, ECONNRESET);
  EXPECT_EQ((*proxy)->stats().resets, 1);
  EXPECT_EQ((*proxy)->stats().bytes, 6);  // the server got "012345" and no more
  close(fd);
}

TEST(FaultProxy, ADoomedConnectionDeliversItsRequestThenResets) {
  EchoServer echo;
  auto proxy = FaultProxy::start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok());
  FaultSettings s;
  s.reset_chance = 1.0;
  (*proxy)->set(s);
  int fd = connect_to((*proxy)->port());
  ASSERT_EQ(write(fd, "req", 3), 3);
  int error = 0;
  EXPECT_EQ(read_n(fd, 3, 3000, &error), "");
  EXPECT_EQ(error, ECONNRESET);
  EXPECT_EQ((*proxy)->stats().bytes, 3);  // the request went through (echoed); the reply never came back
  close(fd);
}

TEST(FaultProxy, AHalfOpenLinkHoldsBytesClosesNothingAndDeliversThemWhenItHeals) {
  EchoServer echo;
  auto proxy = FaultProxy::start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok());
  int fd = connect_to((*proxy)->port());
  FaultSettings s;
  s.half_open = true;
  (*proxy)->set(s);
  ASSERT_EQ(write(fd, "hello", 5), 5);
  EXPECT_EQ(read_n(fd, 5, 400), "");  // no answer, and no EOF either
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  EXPECT_EQ((*proxy)->stats().stalled, 1);
  EXPECT_EQ((*proxy)->stats().bytes, 0);
  (*proxy)->set(FaultSettings{});  // the link heals: what waited arrives, in order
  ASSERT_EQ(write(fd, "again", 5), 5);
  EXPECT_EQ(read_n(fd, 10, 3000), "helloagain");
  close(fd);
}

TEST(FaultProxy, ARefusingProxyResetsNewConnections) {
  EchoServer echo;
  auto proxy = FaultProxy::start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok());
  FaultSettings s;
  s.refuse = true;
  (*proxy)->set(s);
  int fd = connect_to((*proxy)->port());
  int error = 0;
  EXPECT_EQ(read_n(fd, 1, 3000, &error), "");
  EXPECT_EQ(error, ECONNRESET);
  close(fd);
}

TEST(FaultProxy, RefusesAnAddressItCannotUse) {
  EXPECT_FALSE(FaultProxy::start("not-an-address", 0, "127.0.0.1", 1).ok());
  EXPECT_FALSE(FaultProxy::start("127.0.0.1", 0, "localhost", 1).ok());
}

}  // namespace
}  // namespace keel::net
