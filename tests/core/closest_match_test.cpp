#include "core/closest_match.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(ClosestMatch, SuggestsOnlyNamesCloseEnoughToBeATypo) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
  EXPECT_EQ(edit_distance("plna", "plan"), 1u);  // a swap of neighbours is one typo
  const std::vector<std::string> verbs = {"plan", "run", "serve", "agent", "approve"};
  EXPECT_EQ(closest_match("plna", verbs), "plan");
  EXPECT_EQ(closest_match("aprove", verbs), "approve");
  EXPECT_EQ(closest_match("serv", verbs), "serve");
  EXPECT_EQ(closest_match("frobnicate", verbs), "");  // nothing near: no guess
  EXPECT_EQ(closest_match("x", {}), "");
}

}  // namespace
}  // namespace keel
