// The egress guard, checked in a child process (the guard cannot be removed once installed).
#include "contract/egress_guard.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

namespace keel::contract {
namespace {

// Runs `body` in a forked child; returns its exit code.
template <typename F>
int in_child(F body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(EgressGuard, RefusesInternetSocketsInEveryThread) {
  int code = in_child([] {
    // A thread that exists before the guard must be covered too.
    int thread_errno = -1;
    std::atomic<bool> go{false}, done{false};
    std::thread early([&] {
      while (!go) std::this_thread::yield();
      int fd = socket(AF_INET6, SOCK_DGRAM, 0);
      thread_errno = fd < 0 ? errno : 0;
      done = true;
    });
    if (!install_egress_guard().ok()) return 10;
    if (!egress_guard_installed()) return 11;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 || errno != EACCES) return 12;
    go = true;
    early.join();
    if (thread_errno != EACCES) return 13;
    // A connect attempt cannot even start: there is no socket to connect.
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(80);
    addr.sin_addr.s_addr = htonl(0x7f000001);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return 14;
    // Local IPC still works.
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    if (u < 0) return 15;
    close(u);
    if (!install_egress_guard().ok()) return 16;  // idempotent
    return 0;
  });
  EXPECT_EQ(code, 0);
  // The parent is not affected.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
}

}  // namespace
}  // namespace keel::contract
