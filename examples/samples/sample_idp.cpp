#include "samples/sample_idp.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <stdexcept>
#include <vector>

#include "core/jwt.h"

namespace keel::samples {

struct SampleIdp::Keys {
  EVP_PKEY* rsa = nullptr;
  EVP_PKEY* ed = nullptr;
  ~Keys() {
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed);
  }
};

namespace {

std::string bignum_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("no key parameter");
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::string sign(EVP_PKEY* key, bool rsa, const std::string& data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  std::string out;
  if (EVP_DigestSignInit(ctx, nullptr, rsa ? EVP_sha256() : nullptr, nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) == 1) {
    out.resize(length);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(out.data()), &length,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    out.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  if (out.empty()) throw std::runtime_error("signing failed");
  return out;
}

}  // namespace

SampleIdp::SampleIdp() : keys_(std::make_unique<Keys>()) {
  keys_->rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  keys_->ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!keys_->rsa || !keys_->ed) throw std::runtime_error("key generation failed");
}

SampleIdp::~SampleIdp() = default;

std::string SampleIdp::jwks() const {
  unsigned char raw[32];
  size_t raw_length = sizeof(raw);
  EVP_PKEY_get_raw_public_key(keys_->ed, raw, &raw_length);
  Json keys = Json::array();
  keys.push_back({{"kty", "RSA"},
                  {"kid", "rsa-1"},
                  {"alg", "RS256"},
                  {"n", base64url_encode(bignum_param(keys_->rsa, OSSL_PKEY_PARAM_RSA_N))},
                  {"e", base64url_encode(bignum_param(keys_->rsa, OSSL_PKEY_PARAM_RSA_E))}});
  keys.push_back({{"kty", "OKP"},
                  {"crv", "Ed25519"},
                  {"kid", "ed-1"},
                  {"x", base64url_encode(std::string(reinterpret_cast<char*>(raw), raw_length))}});
  return dump_json({{"keys", keys}});
}

std::string SampleIdp::issue(const Json& claims, bool rsa, const Json& header_extra) const {
  Json header = {{"alg", rsa ? "RS256" : "EdDSA"}, {"typ", "JWT"}, {"kid", rsa ? "rsa-1" : "ed-1"}};
  for (auto it = header_extra.begin(); it != header_extra.end(); ++it) header[it.key()] = it.value();
  const std::string signed_part =
      base64url_encode(dump_json(header)) + "." + base64url_encode(dump_json(claims));
  return signed_part + "." + base64url_encode(sign(rsa ? keys_->rsa : keys_->ed, rsa, signed_part));
}

}  // namespace keel::samples
