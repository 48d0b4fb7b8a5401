// A TCP proxy that breaks the link between a client and a server on purpose, for fault tests
// and `keel eval` failure injection where the kernel cannot (this kernel has no netem qdisc):
// added delay, loss (as TCP shows it to applications: a stalled segment waiting for its
// retransmission), resets after a number of bytes, and half-open connections (the peer
// silently gone: nothing forwarded, nothing closed).
//
// Contract:
// - Forwards bytes unchanged and in order in both directions; a fault only delays, stalls or
//   resets, it never corrupts: bytes sent while the link is half-open wait in the kernel's
//   buffers and arrive, in order, if the link heals.
// - set() applies to every connection from its next chunk on, existing ones included (so a
//   link can go half-open mid-request).
// - A reset after N bytes forwards exactly N bytes of the connection, then resets it.
// - A reset closes both sides with SO_LINGER 0: each peer gets RST (ECONNRESET), not FIN.
// - Loss is drawn from a seeded generator: the same seed and traffic give the same stalls.
// - The destructor stops accepting, shuts every connection down (a blocked write or a stall
//   ends at once) and joins its threads; finished connections' threads are reaped as new ones
//   come. Meant for tests and evaluations: a thread per connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"

namespace keel::net {

struct FaultSettings {
  int64_t delay_ms = 0;             //!< added before each chunk forwarded, each direction
  double loss = 0;                  //!< chance a chunk waits a retransmission timeout first
  int64_t retransmit_ms = 200;      //!< the first timeout; doubles for each further loss in a row
  int64_t reset_after_bytes = -1;   //!< reset each connection once it has carried this many (-1: never)
  //! The chance a new connection is reset when the server first answers: the request reached
  //! the server and was acted on, the client never hears back (the outcome is unknown to it).
  double reset_chance = 0;
  bool half_open = false;           //!< forward nothing and close nothing (bytes wait)
  bool refuse = false;              //!< reset new connections at once (the server "down")
  uint64_t seed = 1;
};

struct FaultStats {
  int64_t connections = 0, bytes = 0, losses = 0, resets = 0;
  int64_t stalled = 0;  //!< connections a half-open link held (each counted once)
};

class FaultProxy {
 public:
  //! Listens on host:port (0: any free port) and forwards to target_host:target_port.
  [[nodiscard]] static Result<std::unique_ptr<FaultProxy>> start(const std::string& host, uint16_t port,
                                                                const std::string& target_host,
                                                                uint16_t target_port);
  ~FaultProxy();
  uint16_t port() const { return port_; }
  void set(const FaultSettings& settings);
  FaultSettings settings() const;
  FaultStats stats() const;

 private:
  struct Connection;
  FaultProxy() = default;
  void accept_loop();
  void pump(const std::shared_ptr<Connection>& c, bool doomed);
  void finish(Connection& c, bool reset);  // closes both sockets (RST when reset), once
  bool nap(int64_t ms) const;              // sleeps ms; false when the proxy is stopping
  double draw();  // uniform in [0, 1), from the seeded generator (mutex_ held)

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::string target_host_;
  uint16_t target_port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  FaultSettings settings_;
  FaultStats stats_;
  uint64_t rng_ = 1;
  std::vector<std::pair<std::thread, std::shared_ptr<Connection>>> workers_;  // mutex_
  std::thread acceptor_;
};

}  // namespace keel::net
