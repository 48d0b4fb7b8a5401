#include "serve/connection_limits.h"

namespace keel::serve {

ConnectionAdmission ConnectionTable::open(const std::string& peer) {
  int64_t& from_peer = by_peer_[peer];
  if (limits_.max_connections_per_peer > 0 && from_peer >= limits_.max_connections_per_peer) {
    if (from_peer == 0) by_peer_.erase(peer);
    return ConnectionAdmission::refuse_per_peer;
  }
  ConnectionAdmission a;
  if (serving_ < limits_.max_connections) {
    a = ConnectionAdmission::serve;
    ++serving_;
  } else if (probing_ < limits_.probe_connections) {
    a = ConnectionAdmission::probes_only;
    ++probing_;
  } else {
    if (from_peer == 0) by_peer_.erase(peer);
    return ConnectionAdmission::refuse_total;
  }
  ++from_peer;
  return a;
}

void ConnectionTable::close(const std::string& peer, ConnectionAdmission admitted) {
  if (admitted == ConnectionAdmission::serve) {
    --serving_;
  } else if (admitted == ConnectionAdmission::probes_only) {
    --probing_;
  } else {
    return;
  }
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end() && --it->second <= 0) by_peer_.erase(it);
}

int64_t ConnectionTable::peer_connections(const std::string& peer) const {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? 0 : it->second;
}

bool is_probe_path(const std::string& path) {
  return path == "/livez" || path == "/readyz" || path == "/startupz" || path == "/metrics";
}

}  // namespace keel::serve
