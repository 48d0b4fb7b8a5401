// Verifying the identity a request carries: a JSON Web Token (RFC 7519) signed with RS256 or
// EdDSA (Ed25519), checked against the keys of a JSON Web Key Set (RFC 7517) the deployment
// trusts.
//
// Contract:
// - JwtVerifier::from_jwks() reads {"keys": [...]}: RSA keys (kty RSA, n, e) and Ed25519 keys
//   (kty OKP, crv Ed25519, x), each with an optional kid and alg. Other key types are skipped;
//   a set with no usable key, or a malformed one, is invalid_argument.
// - verify() accepts a token only when all of these hold, and otherwise answers
//   unauthenticated saying which failed: three base64url parts; a header whose alg is RS256 or
//   EdDSA (never "none", never a MAC: a public key is not a shared secret) and matches the key's
//   type and alg; the key found by kid (or, without kid, the one key that verifies); a valid
//   signature over the first two parts; "exp" present and in the future, "nbf" (if present) in
//   the past, both with `leeway_s`; "iss" equal to the expected issuer and "aud" (a string or a
//   list) containing the expected audience, when those are configured.
// - Tokens over 16 KiB are refused before any decoding. Time comes from the Clock given.
// - Thread-safe: a verifier is immutable after construction.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/json.h"
#include "core/result.h"

namespace keel {

struct JwtExpectations {
  std::string issuer;    //!< "" : not checked
  std::string audience;  //!< "" : not checked
  int64_t leeway_s = 60;
};

struct VerifiedToken {
  Json header;
  Json claims;
  std::string key_id;  //!< of the key that verified it
};

class JwtVerifier {
 public:
  [[nodiscard]] static Result<std::unique_ptr<JwtVerifier>> from_jwks(
      std::string_view jwks_json, JwtExpectations expect, const Clock& clock = system_clock());
  ~JwtVerifier();

  [[nodiscard]] Result<VerifiedToken> verify(std::string_view token) const;
  size_t key_count() const;

 private:
  struct Impl;
  explicit JwtVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

//! base64url without padding (RFC 4648 §5), as JWTs use it; nullopt for anything else.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);

}  // namespace keel
