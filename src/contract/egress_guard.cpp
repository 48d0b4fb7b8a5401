#include "contract/egress_guard.h"

#include <fmt/format.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace keel::contract {

namespace {
std::atomic<bool> installed{false};
}

bool egress_guard_installed() { return installed.load(); }

Status install_egress_guard() {
  if (installed.load()) return Status();
  // Required to install a filter without privileges; also what a guarded process wants anyway.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::unavailable(fmt::format("cannot set no_new_privs: {}", std::strerror(errno)));
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return Status::unavailable("seccomp is not available on this kernel");
  int rc = 0;
  for (int family : {AF_INET, AF_INET6}) {
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
                                    SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)));
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socketpair), 1,
                                    SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)));
  }
  rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(io_uring_setup), 0);
  // Every existing thread gets the filter too (compute pools may already be running).
  rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  rc = rc ? rc : seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    return Status::unavailable(fmt::format("cannot install the egress guard: {}", std::strerror(-rc)));
  }
  installed.store(true);
  return Status();
}

}  // namespace keel::contract
