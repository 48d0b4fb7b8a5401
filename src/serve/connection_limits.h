// Bounds on the server's client connections, so that no number of clients, slow or idle, can
// exhaust its file descriptors or memory: a total cap and a per-peer cap on open connections,
// and deadlines for each phase of a request.
//
// Contract:
// - ConnectionTable decides, for each accepted connection, whether it is served in full, served
//   for health probes only (a few slots past the total cap, so /livez and /readyz keep answering
//   while the cap is reached), or refused (closed at once after a 503). The per-peer cap counts
//   connections by the client's IP address; a peer at its cap is refused, never given a probe
//   slot, so one peer cannot take the probes' room either. Not thread-safe: the server's I/O
//   thread owns it.
// - Deadlines (ConnectionLimits): a new connection, or a keep-alive one whose next request has
//   begun, must deliver the whole request head within header_timeout_ms of its first byte (of
//   the connection's start for the first request); the body within body_timeout_ms of the end of
//   the head; a keep-alive connection with no request may stay idle idle_timeout_ms. The
//   deadlines are absolute, so trickling one byte at a time does not extend them. A response
//   being generated or streamed has no deadline (its client's disconnect cancels it).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/serving_defaults.h"

namespace keel::serve {

struct ConnectionLimits {
  int64_t max_connections = serving_defaults::kMaxConnections;  //!< open client connections, all peers together
  int64_t max_connections_per_peer = serving_defaults::kMaxConnectionsPerPeer;  //!< per client IP address; 0: no cap
  int64_t probe_connections =
      16;  //!< past max_connections, for /livez, /readyz, /startupz, /metrics only
  int64_t header_timeout_ms = serving_defaults::kHeaderTimeoutMs;
  int64_t body_timeout_ms = serving_defaults::kBodyTimeoutMs;
  int64_t idle_timeout_ms = serving_defaults::kIdleTimeoutMs;
};

//! What a newly accepted connection may do.
enum class ConnectionAdmission {
  serve,           //!< any request
  probes_only,     //!< past the total cap: health and metrics paths only, then closed
  refuse_total,    //!< past the total cap and the probe slots
  refuse_per_peer  //!< its peer holds max_connections_per_peer already
};

class ConnectionTable {
 public:
  explicit ConnectionTable(const ConnectionLimits& limits) : limits_(limits) {}

  //! Counts a new connection from `peer` (unless refused) and says what it may do.
  ConnectionAdmission open(const std::string& peer);
  //! Forgets a connection that open() admitted (serve or probes_only).
  void close(const std::string& peer, ConnectionAdmission admitted);

  int64_t open_connections() const { return serving_ + probing_; }
  int64_t probe_connections() const { return probing_; }
  int64_t peer_connections(const std::string& peer) const;

 private:
  ConnectionLimits limits_;
  int64_t serving_ = 0, probing_ = 0;
  std::map<std::string, int64_t> by_peer_;
};

//! Whether a path is a health probe or the metrics page (served on probe-only connections).
bool is_probe_path(const std::string& path);

}  // namespace keel::serve
