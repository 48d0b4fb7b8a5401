// A mutation from a push body is untrusted: every bad field is refused naming it.
#include "sync/mutation.h"

#include <gtest/gtest.h>

namespace keel::sync {
namespace {

Json good() {
  return {{"device", "tablet-7"}, {"seq", 3},      {"collection", "work_orders"}, {"record", "WO-1"},
          {"base_version", 2},    {"set", {{"status", "done"}, {"reading", 4.5}}}, {"base", {{"status", "open"}}}};
}

std::string error_of(Json j) {
  auto m = parse_mutation(j);
  return m.ok() ? "" : m.status().message();
}

TEST(Mutation, RoundTripsAndNamesItsId) {
  auto m = parse_mutation(good());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->id(), "tablet-7:3");
  EXPECT_EQ(m->to_json(), good());
}

TEST(Mutation, BadFieldsAreRefusedByName) {
  auto with = [](const char* key, Json value) {
    Json j = good();
    j[key] = std::move(value);
    return j;
  };
  EXPECT_EQ(error_of(with("seq", 0)), "seq: must be at least 1");
  EXPECT_EQ(error_of(with("seq", "3")), "seq: required, an integer");
  EXPECT_EQ(error_of(with("base_version", -1)), "base_version: must be at least 0");
  EXPECT_EQ(error_of(with("device", "tablet 7")), "device: a device id is 1 to 64 of [A-Za-z0-9._-]");
  EXPECT_EQ(error_of(with("collection", "")), "collection: a collection is 1 to 64 of [A-Za-z0-9._-]");
  EXPECT_EQ(error_of(with("record", std::string(129, 'r'))), "record: a record id is 1 to 128 bytes of UTF-8");
  EXPECT_EQ(error_of(with("record", "\xff\xfe")), "record: a record id is 1 to 128 bytes of UTF-8");
  EXPECT_EQ(error_of(with("set", Json::object())), "set: sets no field");
  EXPECT_EQ(error_of(with("set", {{"status", {1, 2}}})), "set.status: must be a string, number, boolean or null");
  EXPECT_EQ(error_of(with("set", {{"bad name", 1}})), "set.bad name: a field name is 1 to 64 of [A-Za-z0-9._-]");
  EXPECT_EQ(error_of(with("extra", 1)), "extra: unknown field of a mutation");
  EXPECT_EQ(error_of(with("set", {{"notes", std::string("a\0b", 3)}})), "set.notes: a text may not hold a NUL character");
  EXPECT_EQ(error_of(with("record", std::string("R\0", 2))), "record: a record id is 1 to 128 bytes of UTF-8");
  Json many = Json::object();
  for (int i = 0; i < 65; ++i) many["f" + std::to_string(i)] = i;
  EXPECT_EQ(error_of(with("set", many)), "set: sets 65 fields; at most 64");
  EXPECT_EQ(error_of(Json::array()), "mutation: must be an object");
  Json no_set = good();
  no_set.erase("set");
  EXPECT_EQ(error_of(no_set), "set: required, the fields the mutation sets");
}

}  // namespace
}  // namespace keel::sync
