// `keel sync serve`: the private cloud's sync endpoint, over HTTP, on the PostgreSQL ledger
// (server_ledger.h).
//
// Contract:
// - Every route but GET /healthz and GET /metrics (counts only) needs `Authorization: Bearer <key>`; options.authenticate
//   maps a key to the device it was issued to (one key per device). No key or an unknown one:
//   401. A mutation whose device is not the key's: 403, nothing applied.
// - POST /v1/sync/push {"mutations": [mutation, ...]} (1 to 100, each as mutation.h parses it):
//   applied in order, each at most once; answers {"results": [outcome, ...]} in the same order.
//   A bad body is 400 naming the field, before anything is applied. An id already applied to
//   another record is 409 mutation_id_reused (the mutations before it in the push stand).
// - GET /v1/sync/pull?after=N&limit=M (limit 1..500, default 200): {"changes": [...],
//   "cursor": the last change's cursor (N when none)}.
// - The database unreachable: 503 with Retry-After: 1 and nothing applied past the mutations
//   already answered (a retried push is safe: the ledger answers "duplicate").
// - Requests run on options.threads workers, each with its own ledger connection.
// - GET /metrics: keel_sync_mutations_total{outcome}, keel_sync_pulls_total,
//   keel_sync_refusals_total{reason}.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace keel::sync {

struct SyncServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  size_t threads = 2;
  std::string conninfo;  //!< the ledger's database
  std::function<Result<std::string>(std::string_view key)> authenticate;
  int64_t header_timeout_ms = 10000, body_timeout_ms = 30000, idle_timeout_ms = 60000;
  size_t max_body_bytes = 1 << 20;
};

class SyncServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SyncServer>> create(SyncServerOptions options);
  ~SyncServer();
  uint16_t port() const;
  //! Serves until SIGINT/SIGTERM or stop().
  void run();
  void stop();

 private:
  SyncServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::sync
