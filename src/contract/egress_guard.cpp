#include "contract/egress_guard.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "contract/spec.h"
#include "core/egress_policy.h"

namespace keel::contract {

namespace {

std::atomic<int> installed{-1};  // the strictest profile installed, -1 for none

// Every open descriptor that is a socket, replaced by /dev/null: the number stays valid for
// whoever holds it, but nothing written to it reaches a network or a local proxy. Standard
// input, output and error stay when they are local (AF_UNIX) sockets: a parent that talks to
// this process over them (a Node.js MCP client spawns its servers with socket pairs) made them;
// under local_ipc every local socket stays (a PostgreSQL connection opened before the guard).
Status neutralise_sockets(bool keep_local) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return Status::unavailable(fmt::format("cannot list /proc/self/fd: {}", std::strerror(errno)));
  std::vector<int> sockets;
  const int listing = dirfd(d);
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == listing) continue;
    struct stat st {};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    int domain = -1;
    socklen_t length = sizeof domain;
    if ((keep_local || fd <= 2) && getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 &&
        domain == AF_UNIX) {
      continue;
    }
    sockets.push_back(static_cast<int>(fd));
  }
  closedir(d);
  if (sockets.empty()) return Status();
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return Status::unavailable(fmt::format("cannot open /dev/null: {}", std::strerror(errno)));
  for (int fd : sockets) {
    if (dup3(null, fd, O_CLOEXEC) < 0) {
      int err = errno;
      ::close(null);
      return Status::unavailable(fmt::format("cannot close socket {}: {}", fd, std::strerror(err)));
    }
  }
  ::close(null);
  return Status();
}

}  // namespace

bool egress_guard_installed() { return installed.load() >= 0; }

Status install_egress_guard(EgressGuardProfile profile) {
  // Strictness: inbound_only < local_ipc < no_sockets (a stricter one may follow a looser one).
  const int wanted = profile == EgressGuardProfile::no_sockets ? 2 : profile == EgressGuardProfile::local_ipc ? 1 : 0;
  if (installed.load() >= wanted) return Status();
  // Required to install a filter without privileges; also what a guarded process wants anyway.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::unavailable(fmt::format("cannot set no_new_privs: {}", std::strerror(errno)));
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return Status::unavailable("seccomp is not available on this kernel");
  const uint32_t refuse = SCMP_ACT_ERRNO(EACCES);
  int rc = 0;
  auto deny = [&](int syscall) { rc = rc ? rc : seccomp_rule_add(ctx, refuse, syscall, 0); };
  auto deny_unless_local = [&](int syscall) {
    rc = rc ? rc : seccomp_rule_add(ctx, refuse, syscall, 1, SCMP_A0(SCMP_CMP_NE, static_cast<scmp_datum_t>(AF_UNIX)));
  };
  deny(SCMP_SYS(io_uring_setup));
  switch (profile) {
    case EgressGuardProfile::no_sockets:
      deny(SCMP_SYS(socket));
      deny(SCMP_SYS(socketpair));
      deny(SCMP_SYS(connect));
      deny(SCMP_SYS(sendto));
      deny(SCMP_SYS(sendmsg));
      deny(SCMP_SYS(sendmmsg));
      break;
    case EgressGuardProfile::local_ipc:
      // Only AF_UNIX sockets can exist (inherited others are cut off below), so connecting and
      // sending reach this machine's local sockets and nothing else.
      deny_unless_local(SCMP_SYS(socket));
      deny_unless_local(SCMP_SYS(socketpair));
      break;
    case EgressGuardProfile::inbound_only:
      deny(SCMP_SYS(socket));
      deny(SCMP_SYS(socketpair));
      deny(SCMP_SYS(connect));
      // A reply on an accepted connection passes no address; a datagram to somewhere does.
      rc = rc ? rc : seccomp_rule_add(ctx, refuse, SCMP_SYS(sendto), 1, SCMP_A4(SCMP_CMP_NE, 0));
      break;
  }
  // Every existing thread gets the filter too (compute pools may already be running).
  rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc == 0 && profile != EgressGuardProfile::inbound_only) {
    Status closed = neutralise_sockets(/*keep_local=*/profile == EgressGuardProfile::local_ipc);
    if (!closed.ok()) {
      seccomp_release(ctx);
      return closed;
    }
  }
  rc = rc ? rc : seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    return Status::unavailable(fmt::format("cannot install the egress guard: {}", std::strerror(-rc)));
  }
  installed.store(wanted);
  return Status();
}

EgressGuardProfile guard_profile_for_store(const std::string& location) {
  const bool postgres = location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
  return postgres ? EgressGuardProfile::local_ipc : EgressGuardProfile::no_sockets;
}

void restrict_egress_to(const std::vector<const Spec*>& specs) {
  std::vector<std::string> allow;
  bool any_list = false;
  for (const Spec* spec : specs) {
    if (spec->deployment.egress.none) continue;
    any_list = true;
    allow.insert(allow.end(), spec->deployment.egress.allow.begin(), spec->deployment.egress.allow.end());
  }
  if (any_list) restrict_egress(std::move(allow));
}

}  // namespace keel::contract
