#include "core/jwt.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <vector>

namespace keel {
namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr int kMinRsaBits = 2048;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

enum class KeyType { rsa, ed25519 };

struct Key {
  std::string kid;
  KeyType type;
  Pkey pkey;
};

Result<Pkey> rsa_key(const std::string& n, const std::string& e) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn_n(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr), &BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn_e(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr), &BN_free);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                       &OSSL_PARAM_BLD_free);
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return Status::invalid_argument("cannot read an RSA key");
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                  &OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return Status::invalid_argument("cannot read an RSA key");
  Pkey key(raw);
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits)
    return Status::invalid_argument(fmt::format("an RSA key has {} bits; at least {} are required",
                                                EVP_PKEY_get_bits(key.get()), kMinRsaBits));
  return key;
}

std::string string_member(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One key of the set; nullopt for key types this verifier does not use.
Result<std::optional<Key>> read_key(const Json& k, size_t index) {
  const std::string where = fmt::format("keys[{}]", index);
  if (!k.is_object()) return Status::invalid_argument(where + " is not an object");
  const std::string kty = string_member(k, "kty"), alg = string_member(k, "alg");
  Key key{string_member(k, "kid"), KeyType::rsa, nullptr};
  if (kty == "RSA") {
    if (!alg.empty() && alg != "RS256") return std::optional<Key>();
    auto n = base64url_decode(string_member(k, "n")), e = base64url_decode(string_member(k, "e"));
    if (!n || !e || n->empty() || e->empty())
      return Status::invalid_argument(where + ": an RSA key needs base64url 'n' and 'e'");
    auto pkey = rsa_key(*n, *e);
    if (!pkey.ok()) return Status::invalid_argument(where + ": " + pkey.status().message());
    key.pkey = std::move(*pkey);
    return std::optional<Key>(std::move(key));
  }
  if (kty == "OKP" && string_member(k, "crv") == "Ed25519") {
    auto x = base64url_decode(string_member(k, "x"));
    if (!x || x->size() != 32)
      return Status::invalid_argument(where + ": an Ed25519 key needs a 32-byte base64url 'x'");
    key.type = KeyType::ed25519;
    key.pkey.reset(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
    if (!key.pkey) return Status::invalid_argument(where + ": cannot read the Ed25519 key");
    return std::optional<Key>(std::move(key));
  }
  return std::optional<Key>();
}

bool signature_holds(const Key& key, std::string_view signed_part, const std::string& signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx) return false;
  const EVP_MD* md = key.type == KeyType::rsa ? EVP_sha256() : nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signed_part.data()),
                          signed_part.size()) == 1;
}

Status unauthenticated(std::string message) {
  return Status::unauthenticated("the identity token is not accepted: " + message);
}

}  // namespace

struct JwtVerifier::Impl {
  std::vector<Key> keys;
  JwtExpectations expect;
  const Clock* clock = nullptr;

  Status check_claims(const Json& claims) const;
};

JwtVerifier::JwtVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JwtVerifier::~JwtVerifier() = default;
size_t JwtVerifier::key_count() const { return impl_->keys.size(); }

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::from_jwks(std::string_view jwks_json,
                                                            JwtExpectations expect,
                                                            const Clock& clock) {
  auto j = parse_json(jwks_json);
  if (!j.ok()) return Status::invalid_argument("the key set is not JSON: " + j.status().message());
  auto keys = j->find("keys");
  if (!j->is_object() || keys == j->end() || !keys->is_array())
    return Status::invalid_argument("a key set is {\"keys\": [...]}");
  auto impl = std::make_unique<Impl>();
  impl->expect = std::move(expect);
  impl->clock = &clock;
  for (size_t i = 0; i < keys->size(); ++i) {
    KEEL_ASSIGN_OR_RETURN(auto key, read_key((*keys)[i], i));
    if (key) impl->keys.push_back(std::move(*key));
  }
  if (impl->keys.empty())
    return Status::invalid_argument("the key set has no RS256 or Ed25519 key");
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(impl)));
}

Status JwtVerifier::Impl::check_claims(const Json& claims) const {
  const int64_t now = clock->unix_now_ns() / 1'000'000'000;
  auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number()) return unauthenticated("it has no expiry (exp)");
  if (exp->get<double>() + static_cast<double>(expect.leeway_s) <= static_cast<double>(now))
    return unauthenticated("it has expired");
  if (auto nbf = claims.find("nbf"); nbf != claims.end()) {
    if (!nbf->is_number() || nbf->get<double>() - static_cast<double>(expect.leeway_s) > static_cast<double>(now))
      return unauthenticated("it is not valid yet (nbf)");
  }
  if (!expect.issuer.empty() && string_member(claims, "iss") != expect.issuer)
    return unauthenticated(fmt::format("its issuer is not {}", expect.issuer));
  if (!expect.audience.empty()) {
    auto aud = claims.find("aud");
    bool ok = false;
    if (aud != claims.end() && aud->is_string()) ok = aud->get<std::string>() == expect.audience;
    if (aud != claims.end() && aud->is_array())
      for (const auto& a : *aud) ok = ok || (a.is_string() && a.get<std::string>() == expect.audience);
    if (!ok) return unauthenticated(fmt::format("it is not meant for {} (aud)", expect.audience));
  }
  return Status();
}

Result<VerifiedToken> JwtVerifier::verify(std::string_view token) const {
  if (token.size() > kMaxTokenBytes) return unauthenticated("it is longer than 16 KiB");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return unauthenticated("a token has three dot-separated parts");
  auto header_bytes = base64url_decode(token.substr(0, dot1));
  auto claim_bytes = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_bytes || !claim_bytes || !signature) return unauthenticated("a part is not base64url");
  auto header = parse_json(*header_bytes);
  auto claims = parse_json(*claim_bytes);
  if (!header.ok() || !header->is_object() || !claims.ok() || !claims->is_object())
    return unauthenticated("its header and claims must be JSON objects");
  const std::string alg = string_member(*header, "alg"), kid = string_member(*header, "kid");
  if (alg != "RS256" && alg != "EdDSA")
    return unauthenticated(fmt::format("algorithm '{}' is not accepted (RS256 or EdDSA)", alg));
  const KeyType type = alg == "RS256" ? KeyType::rsa : KeyType::ed25519;
  const std::string_view signed_part = token.substr(0, dot2);
  const Key* verified_by = nullptr;
  bool key_found = false;
  for (const Key& k : impl_->keys) {
    if (k.type != type || (!kid.empty() && k.kid != kid)) continue;
    key_found = true;
    if (signature_holds(k, signed_part, *signature)) {
      verified_by = &k;
      break;
    }
  }
  if (!key_found)
    return unauthenticated(kid.empty() ? fmt::format("no {} key is trusted", alg)
                                       : fmt::format("key '{}' is not trusted", kid));
  if (!verified_by) return unauthenticated("the signature does not verify");
  KEEL_RETURN_IF_ERROR(impl_->check_claims(*claims));
  return VerifiedToken{std::move(*header), std::move(*claims), verified_by->kid};
}

std::optional<std::string> base64url_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

}  // namespace keel
