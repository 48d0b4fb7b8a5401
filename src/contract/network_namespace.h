// Network isolation behind `egress: none`, and the meter that measures what left.
//
// enter_private_network() moves the process into a network namespace of its own (unshare with
// CLONE_NEWNET; a user without CAP_SYS_ADMIN gets a user namespace too, mapping only its own uid
// and gid). The new namespace has a single interface, a loopback that is down, so no code in the
// process (Keel's or a library's) can send a byte to another host or process over the network.
// The seccomp egress guard (egress_guard.h) stays on top of it.
//
// OutboundMeter reads the transmit counters of every interface in the process's network
// namespace (/proc/self/net/dev, loopback included, so it over-counts rather than misses) when it
// starts and when asked: the difference is the bytes sent. Inside a private namespace every one of
// them is the process's own; in a shared namespace the counters also hold other processes'
// traffic, and own_namespace() says so.
//
// Contract: enter_private_network() must run while the process has a single thread (a namespace
// is per thread, and a user namespace refuses a threaded process): failed_precondition otherwise.
// Where namespaces are not permitted it returns unavailable naming why, and changes nothing.
// Reading counters never throws; an unreadable /proc is unavailable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace keel::contract {

//! Idempotent; see above.
[[nodiscard]] Status enter_private_network();
bool in_private_network();

struct TransmitCounters {
  uint64_t bytes = 0;
  uint64_t packets = 0;
};
//! The sum of the transmit counters of every interface of the calling thread's network namespace.
[[nodiscard]] Result<TransmitCounters> read_transmit_counters();

class OutboundMeter {
 public:
  //! Reads the counters now; later readings are relative to this one.
  [[nodiscard]] static Result<OutboundMeter> start();
  //! Bytes (and packets) sent on any interface since start().
  [[nodiscard]] Result<TransmitCounters> sent() const;
  //! True when the namespace is this process's own (the figure counts nobody else).
  bool own_namespace() const { return own_namespace_; }

 private:
  TransmitCounters at_start_;
  bool own_namespace_ = false;
};

//! Everything `egress: none` asks of a process before it reads private data or a model: a private
//! network namespace where the system permits one (its meter then counts every byte the process
//! sends), and the seccomp egress guard in any case. Fails only when the guard cannot be installed.
struct EgressIsolation {
  bool private_namespace = false;
  std::string note;                   //!< why there is no private namespace, when there is none
  std::optional<OutboundMeter> meter;  //!< set with the private namespace
};
[[nodiscard]] Result<EgressIsolation> isolate_for_egress_none();

}  // namespace keel::contract
