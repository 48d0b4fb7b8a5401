// Identity tokens: what a test IdP signs verifies (RS256 and EdDSA), and every way a token can
// be wrong is refused with a message that says which.
#include "core/jwt.h"

#include <gtest/gtest.h>

#include "support/test_idp.h"

namespace keel {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // seconds

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() : clock_(0, kNow * 1'000'000'000) {
    auto v = JwtVerifier::from_jwks(idp_.jwks(), {"https://idp.test", "keel-rag", 60}, clock_);
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    verifier_ = std::move(*v);
  }
  Json claims(int64_t exp_in_s = 600) const {
    return {{"iss", "https://idp.test"}, {"aud", "keel-rag"}, {"sub", "analyst-acme"},
            {"tenant", "acme"},          {"roles", {"analyst"}}, {"exp", kNow + exp_in_s}};
  }
  std::string refusal(const std::string& token) const {
    auto r = verifier_->verify(token);
    EXPECT_FALSE(r.ok()) << token;
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::unauthenticated);
    return r.status().message();
  }

  testing::TestIdp idp_;
  ManualClock clock_;
  std::unique_ptr<JwtVerifier> verifier_;
};

TEST_F(JwtTest, TokensSignedByTheIdpVerify) {
  EXPECT_EQ(verifier_->key_count(), 2u);
  for (bool rsa : {true, false}) {
    auto t = verifier_->verify(idp_.issue(claims(), rsa));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->claims["tenant"], "acme");
    EXPECT_EQ(t->key_id, rsa ? "rsa-1" : "ed-1");
  }
  Json list_audience = claims();
  list_audience["aud"] = {"other", "keel-rag"};
  EXPECT_TRUE(verifier_->verify(idp_.issue(list_audience)).ok());
}

TEST_F(JwtTest, EveryWrongTokenIsRefusedSayingWhy) {
  const std::string good = idp_.issue(claims());
  std::string flipped = good;
  flipped[good.rfind('.') + 5] = flipped[good.rfind('.') + 5] == 'A' ? 'B' : 'A';
  EXPECT_NE(refusal(flipped).find("signature does not verify"), std::string::npos);
  EXPECT_NE(refusal(idp_.issue(claims(-120))).find("expired"), std::string::npos);
  EXPECT_TRUE(verifier_->verify(idp_.issue(claims(-30))).ok()) << "within the leeway";
  Json future = claims();
  future["nbf"] = kNow + 3600;
  EXPECT_NE(refusal(idp_.issue(future)).find("not valid yet"), std::string::npos);
  Json no_exp = claims();
  no_exp.erase("exp");
  EXPECT_NE(refusal(idp_.issue(no_exp)).find("no expiry"), std::string::npos);
  Json other_issuer = claims();
  other_issuer["iss"] = "https://evil.test";
  EXPECT_NE(refusal(idp_.issue(other_issuer)).find("issuer"), std::string::npos);
  Json other_audience = claims();
  other_audience["aud"] = "another-app";
  EXPECT_NE(refusal(idp_.issue(other_audience)).find("aud"), std::string::npos);
  EXPECT_NE(refusal(idp_.issue(claims(), true, {{"kid", "rsa-9"}})).find("key 'rsa-9' is not trusted"),
            std::string::npos);
  // The classic confusions: no algorithm, and a MAC keyed with the public key.
  for (const char* alg : {"none", "HS256"}) {
    EXPECT_NE(refusal(idp_.issue(claims(), true, {{"alg", alg}})).find("is not accepted"),
              std::string::npos)
        << alg;
  }
  // An EdDSA header over an RSA signature finds no key that verifies it.
  EXPECT_NE(refusal(idp_.issue(claims(), true, {{"alg", "EdDSA"}, {"kid", "ed-1"}})).find("signature"),
            std::string::npos);
  for (const std::string& malformed : {std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
                                       std::string("!!.??.**"), std::string(20000, 'a')}) {
    EXPECT_FALSE(refusal(malformed).empty()) << malformed.substr(0, 20);
  }
}

TEST_F(JwtTest, KeySetsWithoutUsableKeysAreRefused) {
  EXPECT_EQ(JwtVerifier::from_jwks("{\"keys\": []}", {}).status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(JwtVerifier::from_jwks("[1]", {}).status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(JwtVerifier::from_jwks(R"({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]})", {})
                .status()
                .code(),
            StatusCode::invalid_argument)
      << "a 17-bit RSA key";
  EXPECT_EQ(JwtVerifier::from_jwks(R"({"keys": [{"kty": "EC", "crv": "P-256"}]})", {}).status().message(),
            "the key set has no RS256 or Ed25519 key");
}

TEST(Base64Url, RoundTripsAndRefusesOtherAlphabets) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("ab+/"));
  EXPECT_FALSE(base64url_decode("abc="));
  EXPECT_FALSE(base64url_decode("a"));
}

}  // namespace
}  // namespace keel
