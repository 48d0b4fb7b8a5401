// The route policy: each input changes the decision the way the contract says, and a class no
// available route may take is refused with a reason per route.
#include "route/route_policy.h"

#include <gtest/gtest.h>

namespace keel::route {
namespace {

RouteInputs field_task(std::string data_class, double deadline_ms = 3000) {
  RouteInputs in;
  in.task = {"diagnose", std::move(data_class), {"generate"}, deadline_ms};
  in.options = {{Route::local, "local", {"internal"}, {"generate"}, std::nullopt, 900},
                {Route::cloud, "cloud", {"internal", "confidential"}, {"generate", "long-context"}, std::nullopt, 400}};
  in.link = {true, 50, ""};
  return in;
}

TEST(RoutePolicy, LocalWhenItIsPermittedAndMeetsTheDeadline) {
  RouteDecision d = decide(field_task("internal"));
  ASSERT_TRUE(d.route);
  EXPECT_EQ(*d.route, Route::local);
  EXPECT_EQ(d.model_id, "local");
  EXPECT_EQ(d.reason, "local: permitted for internal data and within the 3000 ms deadline (estimated 900 ms)");
  ASSERT_EQ(d.rejected.size(), 1u);
  EXPECT_EQ(d.rejected[0], "cloud was permitted but predicted 450 ms");
}

TEST(RoutePolicy, TheCloudWhenLocalWouldMissTheDeadline) {
  RouteInputs in = field_task("internal", 600);
  RouteDecision d = decide(in);
  EXPECT_EQ(*d.route, Route::cloud);
  EXPECT_FALSE(d.misses_deadline);
  // Measured history overrides the estimate: a slow link makes the cloud the slower route.
  in.options[1].measured_p50_ms = 700;
  d = decide(in);
  EXPECT_EQ(*d.route, Route::cloud);  // 700 ms end to end, still the fastest; both miss the deadline
  EXPECT_TRUE(d.misses_deadline);
  EXPECT_NE(d.reason.find("over the 600 ms deadline"), std::string::npos) << d.reason;
}

TEST(RoutePolicy, ACapabilityOnlyTheCloudHasSendsItThere) {
  RouteInputs in = field_task("internal");
  in.task.needs = {"generate", "long-context"};
  RouteDecision d = decide(in);
  EXPECT_EQ(*d.route, Route::cloud);
  EXPECT_EQ(d.rejected[0], "local (local) lacks long-context");
}

TEST(RoutePolicy, ConfidentialDataFailsClosedWhenTheCloudIsDown) {
  RouteInputs in = field_task("confidential");
  in.link = {false, 0, "timed out after 800 ms"};
  RouteDecision d = decide(in);
  EXPECT_FALSE(d.route);
  EXPECT_EQ(d.reason, "refused: no permitted route can take this confidential diagnose task now (fail closed)");
  ASSERT_EQ(d.rejected.size(), 2u);
  EXPECT_EQ(d.rejected[0], "local (local) is not approved for confidential data");
  EXPECT_EQ(d.rejected[1], "cloud is unreachable (timed out after 800 ms)");
  EXPECT_TRUE(d.to_json()["route"].is_null());
}

TEST(RoutePolicy, ConsentIsNeededAndRecordedConsentOpensTheCloud) {
  RouteInputs in = field_task("confidential");
  in.consent_needed = true;
  RouteDecision d = decide(in);
  EXPECT_FALSE(d.route);
  EXPECT_EQ(d.rejected[1], "cloud needs the user's consent for confidential data, which is not given");
  in.consent_given = true;
  d = decide(in);
  EXPECT_EQ(*d.route, Route::cloud);
}

TEST(RoutePolicy, InternalWorkStaysLocalOffline) {
  RouteInputs in = field_task("internal");
  in.link = {false, 0, "connection refused"};
  RouteDecision d = decide(in);
  EXPECT_EQ(*d.route, Route::local);
  EXPECT_EQ(d.rejected[0], "cloud is unreachable (connection refused)");
}

}  // namespace
}  // namespace keel::route
