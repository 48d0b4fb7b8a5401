#include <gtest/gtest.h>

#include "net/form_encoding.h"

namespace keel::net {
namespace {

TEST(FormEncoding, DecodesPlusAndPercentEscapesInOrder) {
  auto f = parse_form("document=Dear+M%C3%BCller%2C%0Ahi&category=letter&x&category=cv");
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 4u);
  EXPECT_EQ(form_value(*f, "document"), "Dear M\xc3\xbcller,\nhi");
  EXPECT_EQ(form_value(*f, "category"), "letter");  // the first of two
  EXPECT_EQ(form_value(*f, "x"), "");
  EXPECT_EQ(form_value(*f, "missing"), std::nullopt);
  EXPECT_TRUE(parse_form("").ok());
}

TEST(FormEncoding, ABadEscapeIsAnError) {
  for (const char* bad : {"a=%G1", "a=%4", "a=%", "%zz=1"})
    EXPECT_EQ(parse_form(bad).status().code(), StatusCode::invalid_argument) << bad;
}

}  // namespace
}  // namespace keel::net
