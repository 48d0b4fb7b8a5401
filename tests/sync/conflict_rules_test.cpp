// Rebasing a queued mutation on a newer server version, field by field.
#include "sync/conflict_rules.h"

#include <gtest/gtest.h>

namespace keel::sync {
namespace {

Mutation made_on_v2(Json set, Json base) {
  Mutation m;
  m.device = "d";
  m.seq = 5;
  m.collection = "work_orders";
  m.record = "WO-1";
  m.base_version = 2;
  m.set = std::move(set);
  m.base = std::move(base);
  return m;
}

SyncRules rules() {
  SyncRules r;
  r.fields = {{"work_orders.status", FieldRule::server_wins},
              {"notes", FieldRule::merge},
              {"reading", FieldRule::device_wins},
              {"assignee", FieldRule::ask}};
  return r;
}

TEST(Rebase, TheSameVersionIsSentAsItIs) {
  Mutation m = made_on_v2({{"status", "done"}}, {{"status", "open"}});
  Rebase b = rebase(m, 2, {{"status", "open"}}, rules());
  ASSERT_TRUE(b.mutation);
  EXPECT_EQ(b.mutation->to_json(), m.to_json());
  EXPECT_TRUE(b.conflicts.empty());
}

TEST(Rebase, AFieldOnlyTheDeviceChangedMovesOntoTheNewVersion) {
  Mutation m = made_on_v2({{"status", "done"}}, {{"status", "open"}});
  Rebase b = rebase(m, 4, {{"status", "open"}, {"priority", "high"}}, rules());
  ASSERT_TRUE(b.mutation);
  EXPECT_EQ(b.mutation->base_version, 4);
  EXPECT_EQ(b.mutation->set, Json({{"status", "done"}}));
  EXPECT_EQ(b.mutation->id(), "d:5");
  EXPECT_TRUE(b.conflicts.empty());
}

TEST(Rebase, EachRuleResolvesAFieldBothSidesChanged) {
  Mutation m = made_on_v2({{"status", "done"}, {"notes", "valve replaced"}, {"reading", 7.5}},
                          {{"status", "open"}, {"notes", "leak"}, {"reading", 3.0}});
  Rebase b = rebase(m, 3, {{"status", "cancelled"}, {"notes", "leak; customer called"}, {"reading", 4.0}}, rules());
  ASSERT_TRUE(b.mutation);
  EXPECT_FALSE(b.held);
  ASSERT_EQ(b.conflicts.size(), 3u);
  EXPECT_FALSE(b.mutation->set.contains("status"));  // server-wins
  EXPECT_EQ(b.mutation->set["notes"], "leak; customer called\nvalve replaced");  // merge
  EXPECT_EQ(b.mutation->set["reading"], 7.5);  // device-wins
  EXPECT_EQ(b.mutation->base["reading"], 4.0);
}

TEST(Rebase, AnAskFieldHoldsTheWholeMutation) {
  Mutation m = made_on_v2({{"assignee", "ana"}, {"reading", 1}}, {{"assignee", "bo"}, {"reading", 0}});
  Rebase b = rebase(m, 3, {{"assignee", "cy"}, {"reading", 0}}, rules());
  EXPECT_TRUE(b.held);
  ASSERT_TRUE(b.mutation);
  EXPECT_EQ(b.mutation->base_version, 2);  // untouched until the user decides
}

TEST(Rebase, NothingLeftToChangeDropsIt) {
  Mutation m = made_on_v2({{"status", "done"}}, {{"status", "open"}});
  EXPECT_FALSE(rebase(m, 3, {{"status", "cancelled"}}, rules()).mutation);  // server-wins
  EXPECT_FALSE(rebase(m, 3, {{"status", "done"}}, rules()).mutation);       // already so
  Mutation note = made_on_v2({{"notes", "leak"}}, Json::object());
  EXPECT_FALSE(rebase(note, 3, {{"notes", "leak, fixed"}}, rules()).mutation);  // merged = the server's
}

TEST(Rebase, RulesAreLookedUpByCollectionFieldThenFieldThenDefault) {
  SyncRules r = rules();
  EXPECT_EQ(r.rule_for("work_orders", "status"), FieldRule::server_wins);
  EXPECT_EQ(r.rule_for("readings", "reading"), FieldRule::device_wins);
  EXPECT_EQ(r.rule_for("readings", "status"), FieldRule::server_wins);  // the default
  r.fallback = FieldRule::ask;
  EXPECT_EQ(r.rule_for("readings", "colour"), FieldRule::ask);
  EXPECT_EQ(field_rule_named("merge"), FieldRule::merge);
  EXPECT_FALSE(field_rule_named("newest-wins"));
}

}  // namespace
}  // namespace keel::sync
