// Identity: a key set file re-read when it changes; a key set URL must be https (or loopback).
#include "rag/token_authenticator.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_idp.h"
#include "support/test_support.h"

namespace keel::rag {
namespace {

TEST(TokenAuthenticator, AFileIsReadAgainWhenTheKeysRotate) {
  testing::TempDir dir;
  testing::TestIdp idp, rotated;
  testing::write_file(dir.file("jwks.json"), idp.jwks());
  auto a = TokenAuthenticator::create(dir.file("jwks.json"), {"", "", 60});
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  const Json claims = {{"sub", "p"}, {"tenant", "t"}, {"roles", {"analyst"}}, {"exp", 4'000'000'000}};
  auto asker = (*a)->authenticate(idp.issue(claims));
  ASSERT_TRUE(asker.ok()) << asker.status().to_string();
  EXPECT_EQ(asker->tenant, "t");
  EXPECT_FALSE((*a)->authenticate(rotated.issue(claims)).ok());
  EXPECT_EQ((*a)->loads(), 1);  // the file did not change: nothing to read again
  testing::write_file(dir.file("jwks.json.new"), rotated.jwks());
  std::filesystem::rename(dir.file("jwks.json.new"), dir.file("jwks.json"));
  EXPECT_TRUE((*a)->authenticate(rotated.issue(claims)).ok());
  EXPECT_EQ((*a)->loads(), 2);
  EXPECT_FALSE((*a)->authenticate(idp.issue(claims)).ok());
}

TEST(TokenAuthenticator, AKeySetUrlMustBeHttpsUnlessLoopback) {
  auto plain = TokenAuthenticator::create("http://idp.example/jwks.json", {"", "", 60});
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("https://"), std::string::npos) << plain.status().message();
  auto missing = TokenAuthenticator::create("/nonexistent/jwks.json", {"", "", 60});
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace keel::rag
