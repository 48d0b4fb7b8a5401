#include "core/signature.h"

#include <gtest/gtest.h>

#include "core/hash.h"

namespace keel {
namespace {

std::array<uint8_t, 32> seed_from_hex(const char* hex) {
  auto bytes = from_hex(hex);
  std::array<uint8_t, 32> seed{};
  std::copy(bytes->begin(), bytes->end(), seed.begin());
  return seed;
}

TEST(Ed25519, Rfc8032TestVector1) {
  auto kp = ed25519_from_seed(
      seed_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  EXPECT_EQ(to_hex(kp.public_key),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = ed25519_sign(std::string_view(""), kp.secret_key);
  EXPECT_EQ(to_hex(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(ed25519_verify(std::string_view(""), sig, kp.public_key).ok());
}

TEST(Ed25519, TamperedMessageSignatureOrKeyIsRefused) {
  auto kp = ed25519_generate();
  auto other = ed25519_generate();
  std::string manifest = R"({"model":"classifier.onnx","sha256":"ab12"})";
  auto sig = ed25519_sign(manifest, kp.secret_key);
  EXPECT_TRUE(ed25519_verify(manifest, sig, kp.public_key).ok());

  std::string altered = manifest;
  altered[5] ^= 1;
  Status s = ed25519_verify(altered, sig, kp.public_key);
  EXPECT_EQ(s.code(), StatusCode::permission_denied);

  auto bad_sig = sig;
  bad_sig[0] ^= 1;
  EXPECT_FALSE(ed25519_verify(manifest, bad_sig, kp.public_key).ok());
  EXPECT_FALSE(ed25519_verify(manifest, sig, other.public_key).ok());
}

TEST(Ed25519, KeyParsingChecksLength) {
  EXPECT_FALSE(parse_ed25519_public_key_hex("abcd").ok());
  auto kp = ed25519_generate();
  auto parsed = parse_ed25519_public_key_hex(to_hex(kp.public_key));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, kp.public_key);
}

}  // namespace
}  // namespace keel
