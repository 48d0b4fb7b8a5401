#include "contract/network_namespace.h"

#include "contract/egress_guard.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace keel::contract {

namespace {

std::atomic<bool> entered{false};

int thread_count() {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

Status write_proc(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  ssize_t n = ::write(fd, text.data(), text.size());
  int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Status::unavailable(fmt::format("cannot write {}: {}", path, std::strerror(saved)));
  }
  return Status();
}

}  // namespace

bool in_private_network() { return entered.load(); }

Status enter_private_network() {
  if (entered.load()) return Status();
  if (int threads = thread_count(); threads != 1) {
    return Status::failed_precondition(
        fmt::format("a private network namespace must be entered before the process starts threads (it has {})",
                    threads));
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    const int direct = errno;
    if (direct != EPERM) {
      return Status::unavailable(fmt::format("cannot create a network namespace: {}", std::strerror(direct)));
    }
    // Without CAP_SYS_ADMIN: a user namespace of our own grants it inside, mapping only our ids.
    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
      return Status::unavailable(fmt::format(
          "cannot create a network namespace ({}) nor a user namespace for one ({}); this system does not "
          "permit them",
          std::strerror(direct), std::strerror(errno)));
    }
    KEEL_RETURN_IF_ERROR(write_proc("/proc/self/setgroups", "deny"));
    KEEL_RETURN_IF_ERROR(write_proc("/proc/self/uid_map", fmt::format("{} {} 1\n", uid, uid)));
    KEEL_RETURN_IF_ERROR(write_proc("/proc/self/gid_map", fmt::format("{} {} 1\n", gid, gid)));
  }
  entered.store(true);
  return Status();
}

Result<EgressIsolation> isolate_for_egress_none() {
  EgressIsolation isolation;
  Status entered_namespace = enter_private_network();
  if (entered_namespace.ok()) {
    isolation.private_namespace = true;
    KEEL_ASSIGN_OR_RETURN(OutboundMeter meter, OutboundMeter::start());
    isolation.meter = meter;
  } else {
    isolation.note = entered_namespace.message();
  }
  KEEL_RETURN_IF_ERROR(install_egress_guard());
  return isolation;
}

Result<TransmitCounters> read_transmit_counters() {
  // /proc/self/net follows the calling thread's network namespace.
  std::ifstream in("/proc/self/net/dev");
  if (!in) return Status::unavailable(fmt::format("cannot read /proc/self/net/dev: {}", std::strerror(errno)));
  TransmitCounters total;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    if (++lineno <= 2) continue;  // two header lines
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream fields(line.substr(colon + 1));
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit.
    uint64_t v[10] = {};
    for (auto& x : v) {
      if (!(fields >> x)) return Status::unavailable(fmt::format("unexpected /proc/self/net/dev line: {}", line));
    }
    total.bytes += v[8];
    total.packets += v[9];
  }
  return total;
}

Result<OutboundMeter> OutboundMeter::start() {
  OutboundMeter m;
  KEEL_ASSIGN_OR_RETURN(m.at_start_, read_transmit_counters());
  m.own_namespace_ = in_private_network();
  return m;
}

Result<TransmitCounters> OutboundMeter::sent() const {
  KEEL_ASSIGN_OR_RETURN(TransmitCounters now, read_transmit_counters());
  // An interface that went away takes its counters with it: never report less than nothing.
  auto since = [](uint64_t now_value, uint64_t start_value) { return now_value > start_value ? now_value - start_value : 0; };
  return TransmitCounters{since(now.bytes, at_start_.bytes), since(now.packets, at_start_.packets)};
}

}  // namespace keel::contract
