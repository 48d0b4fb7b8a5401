#include "core/status.h"

#include <gtest/gtest.h>

#include "core/result.h"

namespace keel {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("must be positive");
  return v;
}

Result<int> doubled(int v) {
  KEEL_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check_both(int a, int b) {
  KEEL_RETURN_IF_ERROR(parse_positive(a).status());
  KEEL_RETURN_IF_ERROR(parse_positive(b).status().with_context("second"));
  return Status();
}

TEST(Status, OkByDefaultAndCodesHaveStableNames) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.to_string(), "ok");
  EXPECT_EQ(status_code_name(StatusCode::resource_exhausted), "resource_exhausted");
  EXPECT_EQ(status_code_name(StatusCode::data_loss), "data_loss");
  Status s = Status::not_found("no model at x.gguf");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::not_found);
  EXPECT_EQ(s.to_string(), "not_found: no model at x.gguf");
}

TEST(Status, ResourceExhaustedCarriesRetryAfter) {
  Status s = Status::resource_exhausted("queue full", 1500);
  ASSERT_TRUE(s.retry_after_ms().has_value());
  EXPECT_EQ(*s.retry_after_ms(), 1500);
  EXPECT_FALSE(Status::resource_exhausted("no estimate").retry_after_ms().has_value());
  EXPECT_FALSE(Status::unavailable("down").retry_after_ms().has_value());
  // Context keeps the code and the hint.
  Status c = s.with_context("admission");
  EXPECT_EQ(c.message(), "admission: queue full");
  EXPECT_EQ(c.retry_after_ms(), 1500);
}

TEST(Result, ValueOrStatusAndMacrosPropagate) {
  EXPECT_EQ(*doubled(4), 8);
  Result<int> bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(bad.value_or(7), 7);
  EXPECT_TRUE(check_both(1, 2).ok());
  Status s = check_both(1, -2);
  EXPECT_EQ(s.message(), "second: must be positive");
}

}  // namespace
}  // namespace keel
