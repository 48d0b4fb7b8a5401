// The egress guard, checked in child processes (a guard cannot be removed once installed): every
// socket family and every sending syscall is refused, in every thread; sockets the process
// already had are cut off; a server's accepted connections keep working under inbound_only.
#include "contract/egress_guard.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace keel::contract {
namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(0x7f000001);
  return a;
}

constexpr int kFamilies[] = {AF_INET, AF_INET6, AF_PACKET, AF_NETLINK, AF_VSOCK, AF_UNIX};

TEST(EgressGuard, RefusesEverySocketFamilyInEveryThread) {
  for (auto profile : {EgressGuardProfile::no_sockets, EgressGuardProfile::inbound_only}) {
    int code = testing::in_child([profile] {
      // A thread that exists before the guard must be covered too.
      int thread_errno = -1;
      std::atomic<bool> go{false};
      std::thread early([&] {
        while (!go) std::this_thread::yield();
        int fd = socket(AF_INET6, SOCK_DGRAM, 0);
        thread_errno = fd < 0 ? errno : 0;
      });
      if (!install_egress_guard(profile).ok()) return 10;
      if (!egress_guard_installed()) return 11;
      int family_code = 20;
      for (int family : kFamilies) {
        ++family_code;
        int type = family == AF_PACKET ? SOCK_RAW : (family == AF_NETLINK ? SOCK_RAW : SOCK_STREAM);
        int fd = socket(family, type, family == AF_PACKET ? htons(ETH_P_ALL) : 0);
        if (fd >= 0 || errno != EACCES) return family_code;
      }
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0 || errno != EACCES) return 30;
      if (syscall(__NR_io_uring_setup, 1, nullptr) != -1 || errno != EACCES) return 31;
      go = true;
      early.join();
      if (thread_errno != EACCES) return 12;
      if (!install_egress_guard(profile).ok()) return 16;  // idempotent
      return 0;
    });
    EXPECT_EQ(code, 0) << "profile " << static_cast<int>(profile);
  }
  // The parent is not affected.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
}

TEST(EgressGuard, NoSocketsCutsOffWhatTheProcessAlreadyHad) {
  // A connected pair made before the guard: afterwards the guarded end reaches nothing, and
  // connect/sendto/sendmsg are refused outright.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  int code = testing::in_child([&] {
    close(pair[1]);
    int inet = socket(AF_INET, SOCK_DGRAM, 0);  // an Internet socket opened before the guard
    if (inet < 0) return 9;
    if (!install_egress_guard().ok()) return 10;
    const char byte = 'x';
    // The descriptors are still valid, but now /dev/null: the write "succeeds" into nothing.
    if (write(pair[0], &byte, 1) != 1) return 11;
    sockaddr_in to = loopback(9);
    if (sendto(inet, &byte, 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != -1 || errno != EACCES) return 12;
    if (connect(inet, reinterpret_cast<sockaddr*>(&to), sizeof to) != -1 || errno != EACCES) return 13;
    msghdr msg{};
    if (sendmsg(pair[0], &msg, 0) != -1 || errno != EACCES) return 14;
    mmsghdr mmsg{};
    if (sendmmsg(pair[0], &mmsg, 1, 0) != -1 || errno != EACCES) return 15;
    return 0;
  });
  EXPECT_EQ(code, 0);
  char got;
  EXPECT_EQ(read(pair[1], &got, 1), -1) << "the byte must not have reached the other end";
  EXPECT_EQ(errno, EAGAIN);
  close(pair[0]);
  close(pair[1]);
}

TEST(EgressGuard, StandardStreamsThatAreLocalSocketsStay) {
  // A Node.js MCP client spawns its server with socket pairs for stdin and stdout: they are how
  // the client talks to it, and must keep working under no_sockets.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int code = testing::in_child([&] {
    close(pair[0]);
    if (dup2(pair[1], STDOUT_FILENO) < 0) return 9;
    if (!install_egress_guard().ok()) return 10;
    return write(STDOUT_FILENO, "ok", 2) == 2 ? 0 : 11;
  });
  EXPECT_EQ(code, 0);
  close(pair[1]);
  char got[3] = {};
  EXPECT_EQ(read(pair[0], got, 2), 2);
  EXPECT_STREQ(got, "ok");
  close(pair[0]);
}

TEST(EgressGuard, LocalIpcReachesLocalSocketsOnly) {
  // A PostgreSQL journal over its Unix socket: local sockets work (old and new), nothing else.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int code = testing::in_child([&] {
    close(pair[0]);
    int inet = socket(AF_INET, SOCK_DGRAM, 0);
    if (inet < 0) return 9;
    if (!install_egress_guard(EgressGuardProfile::local_ipc).ok()) return 10;
    if (write(pair[1], "db", 2) != 2) return 11;  // the connection made before the guard stays
    int fresh = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fresh < 0) return 12;
    close(fresh);
    for (int family : {AF_INET, AF_INET6, AF_PACKET, AF_NETLINK, AF_VSOCK}) {
      if (socket(family, SOCK_DGRAM, 0) >= 0 || errno != EACCES) return 13;
    }
    sockaddr_in to = loopback(9);
    const char byte = 'x';
    // The Internet socket made before the guard is /dev/null now: nothing leaves through it.
    return sendto(inet, &byte, 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == -1 ? 0 : 14;
  });
  EXPECT_EQ(code, 0);
  close(pair[1]);
  char got[3] = {};
  EXPECT_EQ(read(pair[0], got, 2), 2);
  EXPECT_STREQ(got, "db");
  close(pair[0]);
}

TEST(EgressGuard, InboundOnlyServesAcceptedConnectionsButOpensNone) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in at = loopback(0);
  socklen_t length = sizeof at;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&at), &length), 0);
  pid_t server = fork();
  if (server == 0) {
    if (!install_egress_guard(EgressGuardProfile::inbound_only).ok()) _exit(10);
    int client = accept(listener, nullptr, nullptr);
    if (client < 0) _exit(11);
    const char reply[] = "pong";
    if (send(client, reply, 4, 0) != 4) _exit(12);  // a reply on an accepted connection works
    sockaddr_in elsewhere = loopback(9);
    int out = socket(AF_INET, SOCK_STREAM, 0);
    if (out != -1 || errno != EACCES) _exit(13);
    if (connect(client, reinterpret_cast<sockaddr*>(&elsewhere), sizeof elsewhere) != -1 || errno != EACCES) _exit(14);
    if (sendto(client, reply, 4, 0, reinterpret_cast<sockaddr*>(&elsewhere), sizeof elsewhere) != -1 ||
        errno != EACCES) {
      _exit(15);
    }
    _exit(0);
  }
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  char got[5] = {};
  EXPECT_EQ(recv(client, got, 4, MSG_WAITALL), 4);
  EXPECT_STREQ(got, "pong");
  int status = 0;
  waitpid(server, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "server child exit " << WEXITSTATUS(status);
  close(client);
  close(listener);
}

}  // namespace
}  // namespace keel::contract
