// The gateway in front of the model: API keys (stored as SHA-256 hashes in a key file) mapped
// to tenants, each with limits — requests and tokens per minute (token buckets), concurrent
// requests, and the models it may use.
//
// Key file (YAML):
//   tenants:
//     - id: team-search
//       keys_sha256: [<64 hex>, ...]      # `keel keygen` makes a key and its hash
//       requests_per_minute: 600          # 0 or absent: no limit
//       tokens_per_minute: 200000         # prompt + max_tokens, charged at admission
//       max_concurrent: 16
//       models: [main]                    # absent: every model
//
// Contract: authenticate() answers 401 for a missing or unknown key; allows() 403 for a model
// the tenant may not use; acquire() never blocks: it admits and charges, or refuses with a
// Retry-After (seconds until the bucket holds enough). Buckets refill on the clock the gateway
// was made with (the system clock unless a test passes a ManualClock). Without a key file the
// gateway is open: every request is tenant "anonymous" with no limits. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace keel::serve {

struct TenantLimits {
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  int64_t max_concurrent = 0;
  std::vector<std::string> models;  //!< empty: all
};

struct QuotaDecision {
  bool admitted = true;
  double retry_after_s = 0;
  std::string message;
};

class Gateway {
 public:
  //! `clock` must outlive the gateway.
  [[nodiscard]] static Result<std::unique_ptr<Gateway>> from_key_file(
      const std::string& path, const Clock& clock = system_clock());
  static std::unique_ptr<Gateway> open_access(const Clock& clock = system_clock());

  bool open() const { return open_; }
  //! The tenant of a request's "Authorization: Bearer <key>" header, or unauthenticated.
  [[nodiscard]] Result<std::string> authenticate(std::optional<std::string_view> authorization) const;
  bool allows(const std::string& tenant, const std::string& model) const;
  //! Charges one request and `tokens` tokens, and takes a concurrency slot.
  QuotaDecision acquire(const std::string& tenant, int64_t tokens);
  //! Returns the slot and refunds tokens that were charged but not used.
  void release(const std::string& tenant, int64_t unused_tokens);
  std::vector<std::string> tenants() const;
  //! Sets a tenant's limits (adding the tenant, without keys, if the key file lacks it).
  void set_limits(const std::string& tenant, const TenantLimits& limits);
  //! Registers a tenant (for specs that declare tenants and tests).
  void add_tenant(const std::string& id, const std::vector<std::string>& key_hashes, const TenantLimits& limits);

 private:
  struct Bucket {
    double capacity = 0, tokens = 0, per_second = 0;
    int64_t updated_ns = 0;  //!< on the gateway's clock
    void refill(int64_t now_ns);
  };
  explicit Gateway(const Clock& clock) : clock_(clock) {}
  struct TenantState {
    TenantLimits limits;
    Bucket requests, tokens;
    int64_t in_flight = 0;
  };
  const Clock& clock_;
  bool open_ = false;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> key_to_tenant_;  // sha256 hex -> tenant
  std::map<std::string, TenantState> tenants_;
};

}  // namespace keel::serve
