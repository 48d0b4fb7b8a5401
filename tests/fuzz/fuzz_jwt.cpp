// Fuzz target: identity tokens from untrusted clients through the verifier (split, base64url,
// JSON, algorithm and key choice, signature, claims). Whatever the bytes: no crash, and nothing
// verifies (no one holds the private key of the set below).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto verifier = [] {
    auto v = keel::JwtVerifier::from_jwks(
        R"({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
                      "x": "bkrWaNb1Ek4Q7_rrqL38Vi7TNsB86TM1DHzynvGnHfw"}]})",
        {"https://idp.test", "keel-rag", 60});
    if (!v.ok()) std::abort();
    return std::move(*v);
  }();
  auto r = verifier->verify(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r.ok()) std::abort();
  (void)keel::base64url_decode(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
