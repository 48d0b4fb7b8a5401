// The operating-system guard behind `egress: none`: a seccomp filter that makes creating an
// Internet socket (AF_INET, AF_INET6) and io_uring (which could open one) fail with EACCES, for
// every thread of the process, irrevocably. Local IPC (AF_UNIX) keeps working.
//
// Contract: install_egress_guard() is idempotent and must run before any model or document is
// opened (the plan's first step). After it succeeds no byte can leave through a socket this
// process creates, so outbound bytes are zero by construction. It fails (and changes nothing)
// on kernels without seccomp.
#pragma once

#include "core/result.h"

namespace keel::contract {

[[nodiscard]] Status install_egress_guard();
bool egress_guard_installed();

}  // namespace keel::contract
