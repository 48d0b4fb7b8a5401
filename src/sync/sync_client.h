// The device's side of a sync: pull first, reconcile before replay, then push, against
// `keel sync serve` (sync_server.h).
//
// Contract:
// - sync_once() pulls every change after the device's cursor (pages of 200), rebases the queued
//   mutations on what it pulled (device_store.h reconcile), pushes what can be sent (one mutation
//   per record per round: each is made on the one before), records each outcome, and goes round
//   again while a round made progress or came back with a conflict, at most max_rounds.
// - Every step is durable in the store before the next, so a sync cut anywhere (the link, the
//   process, the server) leaves a store the next sync finishes from, and the server's ledger
//   answers a mutation sent twice as a duplicate: nothing is lost and nothing applied twice.
// - A link or server failure is unavailable (deadline_exceeded past the timeout) with what was
//   done so far in the report; 401/403 are permission_denied; a malformed answer is data_loss.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "sync/device_store.h"

namespace keel::sync {

struct SyncEndpoint {
  std::string url;  //!< e.g. http://10.0.0.1:8095
  std::string key;  //!< the device's API key
  int64_t timeout_ms = 5000;
};

struct SyncReport {
  int64_t pulled = 0, pushed = 0, applied = 0, duplicates = 0, conflicts = 0, rounds = 0;
  //! This device's pushes whose answer was lost, found applied in the change log: not sent again.
  int64_t recovered = 0;
  ReconcileReport reconcile;  //!< summed over the rounds
  int64_t left = 0;           //!< queued mutations not yet acknowledged (held ones included)
  double ms = 0;
};

//! `report` (optional) holds what was done even when the sync fails midway.
[[nodiscard]] Status sync_once(DeviceStore& store, const SyncRules& rules, const SyncEndpoint& endpoint,
                               SyncReport* report, int max_rounds = 8);

}  // namespace keel::sync
