#include "net/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace keel::net {
namespace {

Result<sockaddr_in> address_of(const std::string& host, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    return Status::invalid_argument(fmt::format("'{}' is not an IPv4 address", host));
  return a;
}

// Closes with RST instead of FIN.
void reset_close(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void sleep_ms(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

Result<std::unique_ptr<FaultProxy>> FaultProxy::start(const std::string& host, uint16_t port,
                                                      const std::string& target_host, uint16_t target_port) {
  std::unique_ptr<FaultProxy> p(new FaultProxy());
  KEEL_ASSIGN_OR_RETURN(sockaddr_in listen_at, address_of(host, port));
  KEEL_RETURN_IF_ERROR(address_of(target_host, target_port).status());
  p->target_host_ = target_host;
  p->target_port_ = target_port;
  p->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listen_fd_ < 0) return Status::unavailable(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  setsockopt(p->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&listen_at), sizeof listen_at) != 0 ||
      listen(p->listen_fd_, 128) != 0)
    return Status::unavailable(fmt::format("cannot listen on {}:{}: {}", host, port, std::strerror(errno)));
  socklen_t len = sizeof listen_at;
  getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&listen_at), &len);
  p->port_ = ntohs(listen_at.sin_port);
  if (pipe2(p->wake_, O_CLOEXEC) != 0) return Status::unavailable(fmt::format("pipe: {}", std::strerror(errno)));
  p->acceptor_ = std::thread([raw = p.get()] { raw->accept_loop(); });
  return p;
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    char b = 1;
    (void)!write(wake_[1], &b, 1);  // never read: every poll below sees it from now on
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : wake_)
    if (fd >= 0) close(fd);
}

void FaultProxy::set(const FaultSettings& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
  rng_ = settings.seed ? settings.seed : 1;
}

FaultSettings FaultProxy::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

FaultStats FaultProxy::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

double FaultProxy::draw() {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return static_cast<double>(rng_ % 1000000) / 1e6;
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (stopping_ || fds[1].revents) return;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const FaultSettings s = settings();
    {
      std::lock_guard lock(mutex_);
      ++stats_.connections;
      if (s.refuse) ++stats_.resets;
    }
    if (s.refuse) {
      reset_close(client);
      continue;
    }
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto target = address_of(target_host_, target_port_);
    if (server < 0 || connect(server, reinterpret_cast<const sockaddr*>(&*target), sizeof(sockaddr_in)) != 0) {
      if (server >= 0) close(server);
      reset_close(client);  // what a client of a down server sees
      continue;
    }
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    const bool doomed = s.reset_chance > 0 && draw() < s.reset_chance;
    threads_.emplace_back([this, client, server, doomed] { pump(client, server, doomed); });
  }
}

void FaultProxy::pump(int client, int server, bool doomed) {
  int64_t carried = 0;
  int losses_in_a_row = 0;
  bool open[2] = {true, true};  // reading from client, from server
  const int fd[2] = {client, server};
  char buf[16384];
  while (!stopping_ && (open[0] || open[1])) {
    pollfd fds[3] = {{open[0] ? client : -1, POLLIN, 0}, {open[1] ? server : -1, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int ready = poll(fds, 3, 50);
    if (ready < 0 && errno != EINTR) break;
    if (fds[2].revents) break;
    for (int side = 0; side < 2; ++side) {
      if (!open[side] || !(fds[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = recv(fd[side], buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      const FaultSettings s = settings();
      if (n <= 0) {
        open[side] = false;
        // A peer gone quiet tells the other nothing while the link is half-open.
        if (!s.half_open) shutdown(fd[1 - side], SHUT_WR);
        continue;
      }
      if (s.half_open) {
        std::lock_guard lock(mutex_);
        stats_.silenced += n;
        continue;
      }
      if (doomed && side == 1) {  // the server answered: the client gets RST instead
        {
          std::lock_guard lock(mutex_);
          ++stats_.resets;
        }
        reset_close(client);
        reset_close(server);
        return;
      }
      sleep_ms(s.delay_ms);
      bool lost = false;
      {
        std::lock_guard lock(mutex_);
        lost = s.loss > 0 && draw() < s.loss;
        if (lost) ++stats_.losses;
      }
      if (lost) {
        sleep_ms(s.retransmit_ms << std::min(losses_in_a_row, 5));
        ++losses_in_a_row;
      } else {
        losses_in_a_row = 0;
      }
      if (!write_all(fd[1 - side], buf, static_cast<size_t>(n))) {
        open[0] = open[1] = false;
        break;
      }
      carried += n;
      {
        std::lock_guard lock(mutex_);
        stats_.bytes += n;
      }
      if (s.reset_after_bytes >= 0 && carried >= s.reset_after_bytes) {
        {
          std::lock_guard lock(mutex_);
          ++stats_.resets;
        }
        reset_close(client);
        reset_close(server);
        return;
      }
    }
  }
  if (stopping_) {
    reset_close(client);
    reset_close(server);
    return;
  }
  close(client);
  close(server);
}

}  // namespace keel::net
