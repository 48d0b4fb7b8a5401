// The one table of the serving defaults: `keel serve`'s flags, the spec's `serving:` section and
// the server's option structs all start from these, so a setting left out means the same
// everywhere.
#pragma once

#include <cstdint>

namespace keel::serving_defaults {

inline constexpr const char* kHost = "127.0.0.1";
inline constexpr int64_t kPort = 8080;
inline constexpr int64_t kMaxRunning = 8;          //!< requests decoded together
inline constexpr int64_t kMaxWaiting = 64;         //!< requests that may wait; more get 429
inline constexpr int64_t kMaxQueuedTokens = 0;     //!< 0: the KV cache's token capacity
inline constexpr int64_t kContextTokens = 2048;    //!< tokens per request (prompt + completion)
inline constexpr int64_t kMaxTokensLimit = 1024;   //!< the largest max_tokens a request may ask
inline constexpr int64_t kStepTokenBudget = 256;   //!< tokens per forward step (chunked prefill)
inline constexpr double kGracePeriodS = 30;        //!< to finish in-flight work on SIGTERM
inline constexpr double kMaxQueueWaitMs = 0;       //!< 0: no bound on the predicted wait
inline constexpr double kSloTtftMs = 2000;         //!< goodput's objectives when none is given
inline constexpr double kSloTpotMs = 150;
inline constexpr int64_t kMaxConnections = 4096;          //!< open client connections
inline constexpr int64_t kMaxConnectionsPerPeer = 1024;   //!< per client IP; 0: no cap
inline constexpr int64_t kHeaderTimeoutMs = 10000;
inline constexpr int64_t kBodyTimeoutMs = 60000;
inline constexpr int64_t kIdleTimeoutMs = 75000;

}  // namespace keel::serving_defaults
