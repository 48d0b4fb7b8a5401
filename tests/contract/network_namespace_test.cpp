// The private network namespace behind egress: none, and the meter that reads what left it:
// nothing can be sent from inside, and the meter moves when bytes do leave (a negative control
// that brings the namespace's loopback up and sends through it). Each case runs in a forked
// child, since entering a namespace cannot be undone.
#include "contract/network_namespace.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "support/test_support.h"

namespace keel::contract {
namespace {

constexpr int kNoNamespaces = 77;

bool bring_loopback_up() {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  close(fd);
  return ok;
}

TEST(NetworkNamespace, NothingLeavesAndTheMeterCountsWhatDoes) {
  int code = testing::in_child([] {
    Status entered = enter_private_network();
    if (entered.code() == StatusCode::unavailable) return kNoNamespaces;
    if (!entered.ok() || !in_private_network()) return 10;
    auto meter = OutboundMeter::start();
    if (!meter.ok() || !meter->own_namespace()) return 11;

    // No route anywhere, not even to this machine's loopback address.
    for (uint32_t address : {0x01010101u, 0x7f000001u}) {
      int s = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(80);
      to.sin_addr.s_addr = htonl(address);
      if (s < 0) return 12;
      if (connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) return 13;
      close(s);
    }
    auto nothing = meter->sent();
    if (!nothing.ok() || nothing->bytes != 0 || nothing->packets != 0) return 14;

    // Negative control: with the loopback up, 100 kB sent through it are counted.
    if (!bring_loopback_up()) return 15;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(0x7f000001);
    socklen_t length = sizeof at;
    if (bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&at), &length) != 0) {
      return 16;
    }
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) return 17;
    int server = accept(listener, nullptr, nullptr);
    const std::string payload(100'000, 'x');
    size_t received = 0;
    std::thread reader([&] {
      char buffer[65536];
      ssize_t n;
      while (received < payload.size() && (n = read(server, buffer, sizeof buffer)) > 0) received += static_cast<size_t>(n);
    });
    size_t written = 0;
    while (written < payload.size()) {
      ssize_t n = write(client, payload.data() + written, payload.size() - written);
      if (n <= 0) return 18;
      written += static_cast<size_t>(n);
    }
    reader.join();
    if (received != payload.size()) return 19;
    auto sent = meter->sent();
    if (!sent.ok() || sent->bytes < payload.size() || sent->packets == 0) return 20;
    return 0;
  });
  if (code == kNoNamespaces) KEEL_SKIP_OUTSIDE_CI("this system permits no network namespace for this user");
  EXPECT_EQ(code, 0);
}

TEST(NetworkNamespace, RefusesAThreadedProcess) {
  int code = testing::in_child([] {
    std::atomic<bool> stop{false};
    std::thread busy([&] {
      while (!stop) std::this_thread::yield();
    });
    Status entered = enter_private_network();
    stop = true;
    busy.join();
    return entered.code() == StatusCode::failed_precondition && !in_private_network() ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
}

TEST(NetworkNamespace, CountersAreReadInTheHostNamespaceToo) {
  auto counters = read_transmit_counters();
  ASSERT_TRUE(counters.ok()) << counters.status().to_string();
  auto meter = OutboundMeter::start();
  ASSERT_TRUE(meter.ok());
  EXPECT_FALSE(meter->own_namespace()) << "this test process shares the host's namespace";
}

}  // namespace
}  // namespace keel::contract
