#include "core/utf8.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST(Utf8, RejectsIllFormedSequencesAtTheRightOffset) {
  EXPECT_EQ(first_invalid_utf8("ab\x80"), 2u);           // lone continuation
  EXPECT_EQ(first_invalid_utf8("\xc0\xaf"), 0u);         // overlong
  EXPECT_EQ(first_invalid_utf8("x\xed\xa0\x80"), 1u);    // surrogate
  EXPECT_EQ(first_invalid_utf8("\xf4\x90\x80\x80"), 0u); // above U+10FFFF
  EXPECT_EQ(first_invalid_utf8("ok\xe2\x82"), 2u);       // truncated
}

TEST(Utf8, RepairReplacesEachBadByte) {
  EXPECT_EQ(repair_utf8("a\xffz"), "a\xEF\xBF\xBDz");
  EXPECT_TRUE(is_valid_utf8(repair_utf8("\xc3\x28\xa0\xa1")));
}

TEST(Utf8, CompletePrefixHoldsBackACutCharacter) {
  std::string euro = "\xe2\x82\xac";
  EXPECT_EQ(complete_utf8_prefix("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab" + euro), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab\xff"), 3u);  // invalid bytes are not held back forever
}

}  // namespace
}  // namespace keel
