// The operating-system guard behind `egress: none`: a seccomp filter, for every thread of the
// process and irrevocably, on top of the private network namespace (network_namespace.h) where
// the system allows one.
//
// Three profiles:
// - no_sockets (the default; keel run/ask/index/eval, MCP over stdio, the agent on SQLite): the
//   process needs no socket at all. socket() and socketpair() of every family (AF_INET, AF_INET6,
//   AF_PACKET, AF_NETLINK, AF_VSOCK, AF_UNIX, ...), connect(), sendto(), sendmsg(), sendmmsg()
//   and io_uring_setup() fail with EACCES, and every socket the process inherited (or opened
//   before) is replaced by /dev/null, so no descriptor can carry a byte to a proxy or through
//   another namespace — except standard input, output and error when they are local (AF_UNIX)
//   sockets its parent talks to it over.
// - local_ipc (the agent on a PostgreSQL journal reached by its Unix socket): as no_sockets, but
//   AF_UNIX sockets may be created, connected and written, and the ones it has stay: the process
//   reaches this machine's local sockets and nothing else (a local proxy listening on one is the
//   residual risk).
// - inbound_only (keel serve, keel mcp --http): a server whose listening socket is already
//   bound. Accepted connections keep working (accept4 needs no socket() call, and replies on
//   them are sends on connected sockets); socket() and socketpair() of every family, connect()
//   and sendto() with a destination address fail with EACCES, and io_uring is refused.
//
// Contract: install_egress_guard() must run before any model or private document is read (the
// plan's first step). Installing again is a no-op (a guard cannot be loosened; a stricter
// profile after a looser one adds its rules). It fails (and changes nothing) on kernels without
// seccomp.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace keel::contract {

struct Spec;

enum class EgressGuardProfile { no_sockets, local_ipc, inbound_only };

[[nodiscard]] Status install_egress_guard(EgressGuardProfile profile = EgressGuardProfile::no_sockets);

//! The profile for a process whose journal (or other store) is `location`: local_ipc for a
//! PostgreSQL URI (reached over its Unix socket), no_sockets otherwise.
EgressGuardProfile guard_profile_for_store(const std::string& location);
bool egress_guard_installed();

//! For a spec whose egress is an allow-list: every connection the process opens itself (HTTP
//! client: model endpoints, MCP servers, collectors) is held to it (core/egress_policy.h).
//! Nothing happens for egress: none (the guard above applies) — call it once per process after
//! the spec is loaded. With several specs, the union of their lists.
void restrict_egress_to(const std::vector<const Spec*>& specs);

}  // namespace keel::contract
