// Turns a bearer token into an asker: the JWT verified against a JWKS file, its claims mapped
// to principal, tenant and roles. The identity provider may rotate its keys: the file is read
// again when a token fails verification and the file has changed since it was read, so a rotation needs no restart and a token of a retired key stops working.
//
// Contract:
// - create() reads the key set once (a missing or malformed file fails it).
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
      std::string jwks_path, JwtExpectations expect, semantic::ClaimMapping mapping = {});

  [[nodiscard]] Result<semantic::Asker> authenticate(std::string_view token);
  //! How many times the key set was read (1 after create()).
  int loads() const;

 private:
  TokenAuthenticator(std::string path, JwtExpectations expect, semantic::ClaimMapping mapping)
      : path_(std::move(path)), expect_(std::move(expect)), mapping_(std::move(mapping)) {}
  Status load();

  const std::string path_;
  const JwtExpectations expect_;
  const semantic::ClaimMapping mapping_;
  mutable std::mutex mu_;
  std::shared_ptr<const JwtVerifier> verifier_;
  int64_t file_mtime_ns_ = 0;
  int loads_ = 0;
};

}  // namespace keel::rag
