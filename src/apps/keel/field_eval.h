// keel eval hybrid-field: the field assistant end to end on this machine, with its faults.
// A private cloud runs in the process on loopback (keel serve's server with the device's model
// file behind a device key, and the sync server on a PostgreSQL cluster it starts), each behind
// a fault-injecting TCP proxy (net/fault_proxy.h). The device asks the spec's task types through
// phases (online; with consent; the link half-open; the cloud refusing; the cloud failing
// mid-answer; healed, with queued asks asked again), runs the parity prompts on both routes,
// and syncs two devices' conflicting offline edits through resets, then times convergence after
// a partition for 1, 10 and 100 queued commands.
//
// Reports: the route and fallback distribution with reasons per phase; offline success; latency
// per route (p50/p95); parity (identical greedy answers, same model hash and version); an audit
// of every answered ask against the spec (a route whose model is not approved for the task's
// class is a violation); sync conflicts by rule, duplicates prevented, the ledger holding every
// mutation exactly once, convergence of both devices with the server, and time to converge.
// Exit 0 when there is no violation, every parity prompt matches, and sync converged exactly
// once; 1 otherwise.
#pragma once

#include <string>

namespace keel::app {

struct FieldEvalOptions {
  std::string spec;      //!< hybrid-field spec (its local model answers on both routes)
  std::string asks;      //!< default: the spec's folder/hybrid-field/eval.json
  std::string work_dir;  //!< default: a temporary folder, removed afterwards
  bool json = false;
};

int run_field_eval(const FieldEvalOptions& options);

}  // namespace keel::app
