// A test identity provider: makes its own RSA and Ed25519 keys, publishes them as a JWKS, and
// issues signed JWTs (RS256 or EdDSA) with the claims a test asks for.
#pragma once

#include <memory>
#include <string>

#include "core/json.h"

namespace keel::testing {

class TestIdp {
 public:
  TestIdp();
  ~TestIdp();
  TestIdp(const TestIdp&) = delete;
  TestIdp& operator=(const TestIdp&) = delete;

  //! {"keys": [the RSA key (kid "rsa-1"), the Ed25519 key (kid "ed-1")]}
  std::string jwks() const;
  //! A token over `claims`, signed with RS256 (rsa = true) or EdDSA; `header_extra` is merged
  //! into the header (a test can set "alg" or "kid" to anything).
  std::string issue(const Json& claims, bool rsa = true, const Json& header_extra = Json::object()) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
};

}  // namespace keel::testing
