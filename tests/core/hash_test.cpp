#include "core/hash.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel {
namespace {

TEST(Sha256, KnownVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 h;
  h.update("ab");
  h.update("c");
  EXPECT_EQ(h.finish(), sha256("abc"));
}

TEST(Sha256, FileHashStreamsAndReportsMissingFiles) {
  testing::TempDir dir;
  std::string big(3 << 20, 'x');  // larger than the read buffer
  testing::write_file(dir.file("f"), big);
  auto digest = sha256_file(dir.file("f"));
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, sha256(big));
  auto missing = sha256_file(dir.file("nope"));
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);
}

TEST(Hex, RoundTripsAndRejectsGarbage) {
  std::vector<uint8_t> bytes = {0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "00abff");
  EXPECT_EQ(*from_hex("00ABff"), bytes);
  EXPECT_FALSE(from_hex("abc").ok());
  EXPECT_FALSE(from_hex("zz").ok());
}

}  // namespace
}  // namespace keel
