#include "net/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

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

// One proxied connection. The pump thread owns the sockets; finish() closes them under the
// proxy's mutex and marks them -1, so the destructor can shut down the ones still open.
struct FaultProxy::Connection {
  int client = -1, server = -1;
  std::atomic<bool> done{false};
};

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    char b = 1;
    (void)!write(wake_[1], &b, 1);  // never read: every poll below sees it from now on
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::pair<std::thread, std::shared_ptr<Connection>>> workers;
  {
    std::lock_guard lock(mutex_);
    for (auto& [thread, c] : workers_) {
      // A pump blocked in send() or a stall returns at once.
      if (c->client >= 0) shutdown(c->client, SHUT_RDWR);
      if (c->server >= 0) shutdown(c->server, SHUT_RDWR);
    }
    workers.swap(workers_);
  }
  for (auto& w : workers) w.first.join();
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

bool FaultProxy::nap(int64_t ms) const {
  if (ms <= 0) return !stopping_;
  pollfd p{wake_[0], POLLIN, 0};
  (void)poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 60000)));
  return !stopping_;
}

void FaultProxy::finish(Connection& c, bool reset) {
  std::lock_guard lock(mutex_);
  if (reset) {
    ++stats_.resets;
    reset_close(c.client);
    reset_close(c.server);
  } else {
    if (c.client >= 0) close(c.client);
    if (c.server >= 0) close(c.server);
  }
  c.client = c.server = -1;
  c.done = true;
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
    auto c = std::make_shared<Connection>();
    c->client = client;
    c->server = server;
    std::vector<std::thread> finished;
    {
      std::lock_guard lock(mutex_);
      const bool doomed = s.reset_chance > 0 && draw() < s.reset_chance;
      for (auto it = workers_.begin(); it != workers_.end();) {
        if (it->second->done) {
          finished.push_back(std::move(it->first));
          it = workers_.erase(it);
        } else {
          ++it;
        }
      }
      workers_.emplace_back(std::thread([this, c, doomed] { pump(c, doomed); }), c);
    }
    for (auto& t : finished) t.join();
  }
}

void FaultProxy::pump(const std::shared_ptr<Connection>& c, bool doomed) {
  int64_t carried = 0;
  int losses_in_a_row = 0;
  bool open[2] = {true, true};  // reading from client, from server
  bool counted_stall = false;
  const int fd[2] = {c->client, c->server};
  std::string held[2];  // a chunk read just as the link went half-open: sent first when it heals
  char buf[16384];
  enum class Next { go_on, stop, reset };
  // One chunk from `side` to the other, through the faults as they are now.
  auto forward = [&](int side, const char* data, size_t n) -> Next {
    const FaultSettings s = settings();
    if (s.half_open) {
      held[side].append(data, n);
      return Next::go_on;
    }
    if (doomed && side == 1) return Next::reset;  // the server answered: the client gets RST instead
    if (!nap(s.delay_ms)) return Next::stop;
    bool lost = false;
    {
      std::lock_guard lock(mutex_);
      lost = s.loss > 0 && draw() < s.loss;
      if (lost) ++stats_.losses;
    }
    if (lost) {
      if (!nap(s.retransmit_ms << std::min(losses_in_a_row, 5))) return Next::stop;
      ++losses_in_a_row;
    } else {
      losses_in_a_row = 0;
    }
    size_t send = n;
    bool reset_now = false;
    if (s.reset_after_bytes >= 0 && carried + static_cast<int64_t>(n) >= s.reset_after_bytes) {
      send = static_cast<size_t>(std::max<int64_t>(0, s.reset_after_bytes - carried));
      reset_now = true;
    }
    if (send > 0 && !write_all(fd[1 - side], data, send)) return Next::reset;
    carried += static_cast<int64_t>(send);
    {
      std::lock_guard lock(mutex_);
      stats_.bytes += static_cast<int64_t>(send);
    }
    return reset_now ? Next::reset : Next::go_on;
  };
  while (!stopping_ && (open[0] || open[1] || !held[0].empty() || !held[1].empty())) {
    if (settings().half_open) {
      // Read nothing: what the peers send waits in the kernel's buffers, as on a dead link.
      if (!counted_stall) {
        std::lock_guard lock(mutex_);
        ++stats_.stalled;
        counted_stall = true;
      }
      if (!nap(50)) break;
      continue;
    }
    Next next = Next::go_on;
    for (int side = 0; side < 2 && next == Next::go_on; ++side) {
      if (held[side].empty()) continue;
      std::string chunk = std::move(held[side]);
      held[side].clear();
      next = forward(side, chunk.data(), chunk.size());
      // Its sender had already closed: pass that on once what it sent is through.
      if (next == Next::go_on && !open[side] && held[side].empty()) shutdown(fd[1 - side], SHUT_WR);
    }
    if (next == Next::reset) return finish(*c, /*reset=*/true);
    if (next == Next::stop) break;
    if (!open[0] && !open[1]) continue;
    pollfd fds[3] = {{open[0] ? fd[0] : -1, POLLIN, 0}, {open[1] ? fd[1] : -1, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int ready = poll(fds, 3, 50);
    if (ready < 0 && errno != EINTR) break;
    if (fds[2].revents) break;
    for (int side = 0; side < 2 && next == Next::go_on; ++side) {
      if (!open[side] || !(fds[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = recv(fd[side], buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open[side] = false;
        if (held[side].empty()) shutdown(fd[1 - side], SHUT_WR);
        continue;
      }
      next = forward(side, buf, static_cast<size_t>(n));
    }
    if (next == Next::reset) return finish(*c, /*reset=*/true);
    if (next == Next::stop) break;
  }
  finish(*c, /*reset=*/stopping_.load());
}

}  // namespace keel::net
