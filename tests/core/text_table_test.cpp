#include "core/text_table.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(TextTable, AlignsColumnsAndWrapsLongCells) {
  TextTable t({"id", "value", "note"}, 10);
  t.right_align(1);
  t.add_row({"a", "1", "short"});
  t.add_row({"longer-id", "12345", "a note that is long enough to wrap past twenty chars"});
  std::string out = t.render("");
  EXPECT_EQ(out.substr(0, out.find('\n')), "id         value  note");
  EXPECT_NE(out.find("a              1  short\n"), std::string::npos) << out;
  // The last column wraps at twice max_width (20 here).
  EXPECT_NE(out.find("longer-id  12345  a note that is long\n"), std::string::npos) << out;
  EXPECT_NE(out.find("                  enough to wrap past\n"), std::string::npos) << out;
}

TEST(TextTable, WidthCountsCodePoints) { EXPECT_EQ(display_width("caf\xc3\xa9"), 4u); }

}  // namespace
}  // namespace keel
