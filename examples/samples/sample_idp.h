// The examples' identity provider: makes its own RSA and Ed25519 keys, publishes them as a JWKS,
// and issues signed JWTs (RS256 or EdDSA) with the claims asked for. The tests' IdP, and what
// `keel rag sample-identity` writes tokens with for the enterprise-rag demo; a deployment uses
// its own identity provider's key set.
#pragma once

#include <memory>
#include <string>

#include "core/json.h"

namespace keel::samples {

class SampleIdp {
 public:
  SampleIdp();
  ~SampleIdp();
  SampleIdp(const SampleIdp&) = delete;
  SampleIdp& operator=(const SampleIdp&) = delete;

  //! {"keys": [the RSA key (kid "rsa-1"), the Ed25519 key (kid "ed-1")]}
  std::string jwks() const;
  //! A token over `claims`, signed with RS256 (rsa = true) or EdDSA; `header_extra` is merged
  //! into the header (a test can set "alg" or "kid" to anything).
  std::string issue(const Json& claims, bool rsa = true, const Json& header_extra = Json::object()) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
};

}  // namespace keel::samples
