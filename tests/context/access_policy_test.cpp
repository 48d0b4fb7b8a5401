// Passage policy: tenant and ACL checks name their rule, an empty ACL admits nobody, and field
// masking replaces only the values of restricted field lines.
#include "context/access_policy.h"

#include <gtest/gtest.h>

namespace keel::context {
namespace {

TEST(AccessPolicy, TenantThenAclDecide) {
  const Reader analyst{"acme", {"analyst"}};
  EXPECT_TRUE(check_access({"acme", {"analyst", "hr"}}, analyst).allowed);
  AccessDecision other = check_access({"globex", {"analyst"}}, analyst);
  EXPECT_FALSE(other.allowed);
  EXPECT_EQ(other.rule, "tenant.row_filter");
  AccessDecision hr_only = check_access({"acme", {"hr"}}, analyst);
  EXPECT_FALSE(hr_only.allowed);
  EXPECT_EQ(hr_only.rule, "document.acl");
  EXPECT_NE(hr_only.detail.find("hr"), std::string::npos);
  EXPECT_FALSE(check_access({"acme", {}}, analyst).allowed);
  EXPECT_FALSE(check_access({"acme", {"analyst"}}, {"acme", {}}).allowed);
}

TEST(AccessPolicy, MasksOnlyRestrictedFieldLines) {
  const std::string text =
      "# Team\n\nlead: Dana\nSalary: 61500 EUR\n- salary:  70000\nThe salary: review is yearly and fair.\nsalary";
  MaskedText m = mask_fields(text, {"salary"});
  EXPECT_EQ(m.text, "# Team\n\nlead: Dana\nSalary: [masked]\n- salary:  [masked]\n"
                    "The salary: review is yearly and fair.\nsalary");
  EXPECT_EQ(m.masked, std::vector<std::string>{"salary"});
  EXPECT_EQ(mask_fields(text, {}).text, text);
  EXPECT_EQ(mask_fields("salary: 1", {"lead"}).text, "salary: 1");
}

}  // namespace
}  // namespace keel::context
