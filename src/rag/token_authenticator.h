// Turns a bearer token into an asker: the JWT verified against the identity provider's JWKS (a
// file, or a URL the spec's egress allow-list names), its claims mapped to principal, tenant and
// roles. The identity provider may rotate its keys: when a token fails verification the key set
// is read again (a file when it changed since it was read; a URL at most once per
// min_refetch_ms), so a rotation needs no restart and a token of a retired key stops working.
//
// Contract:
// - create() reads the key set once (a missing or malformed set fails it). A URL is fetched
//   with the one HTTP client (held to the egress allow-list, 5 s, at most 1 MiB, status 200);
//   it must be https:// unless its host is loopback (keys over plain HTTP could be replaced on
//   the way).
// - authenticate() is unauthenticated for a token that does not verify (the verifier's reason)
//   or whose claims name no principal or tenant; thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/jwt.h"
#include "core/result.h"
#include "semantic/metric_service.h"

namespace keel::rag {

class TokenAuthenticator {
 public:
  [[nodiscard]] static Result<std::unique_ptr<TokenAuthenticator>> create(
      std::string jwks_path_or_url, JwtExpectations expect, semantic::ClaimMapping mapping = {},
      int64_t min_refetch_ms = 30000);

  [[nodiscard]] Result<semantic::Asker> authenticate(std::string_view token);
  //! How many times the key set was read (1 after create()).
  int loads() const;

 private:
  TokenAuthenticator(std::string path, JwtExpectations expect, semantic::ClaimMapping mapping)
      : path_(std::move(path)), expect_(std::move(expect)), mapping_(std::move(mapping)) {}
  Status load();
  bool is_url() const;
  //! Whether the key set may have changed since it was read (under mu_).
  bool stale_locked();

  const std::string path_;
  const JwtExpectations expect_;
  const semantic::ClaimMapping mapping_;
  mutable std::mutex mu_;
  std::shared_ptr<const JwtVerifier> verifier_;
  int64_t file_stamp_ = 0;
  int64_t min_refetch_ms_ = 30000;
  int64_t fetched_at_ns_ = 0;
  int loads_ = 0;
};

}  // namespace keel::rag
