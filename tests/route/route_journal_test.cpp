// The route journal on a real SQLite file: asks are kept with their reasons, the latency history
// is the median of answered asks per task and route, consent is the user's last choice, a
// queued ask is completed in place, and the counts add up; and the cloud's fingerprint parses.
#include "route/route_journal.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "route/chat_routes.h"
#include "support/test_support.h"

namespace keel::route {
namespace {

AskRecord answered(const std::string& task, const std::string& route, double ms) {
  AskRecord r;
  r.task = task;
  r.data_class = "internal";
  r.question = "q";
  r.user = "tech";
  r.status = "answered";
  r.route = route;
  r.reason = route + ": permitted";
  r.ms = ms;
  r.model_sha256 = std::string(64, 'a');
  return r;
}

TEST(RouteJournal, HistoryIsTheMedianOfAnsweredAsksPerTaskAndRoute) {
  testing::TempDir dir;
  auto j = RouteJournal::open(dir.file("device.db"));
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  auto none = (*j)->p50_ms("lookup", "local");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (double ms : {30.0, 10.0, 20.0}) {
    auto r = answered("lookup", "local", ms);
    ASSERT_TRUE((*j)->record(&r).ok());
    EXPECT_GT(r.id, 0);
  }
  auto other = answered("lookup", "cloud", 500);
  ASSERT_TRUE((*j)->record(&other).ok());
  auto failed = answered("lookup", "local", 9000);
  failed.status = "failed";
  ASSERT_TRUE((*j)->record(&failed).ok());
  EXPECT_EQ(**(*j)->p50_ms("lookup", "local"), 20);
  EXPECT_EQ(**(*j)->p50_ms("lookup", "cloud"), 500);
  EXPECT_EQ(**(*j)->p50_ms("lookup", "local", 2), 15);  // only the last two answered: 10 and 20
}

TEST(RouteJournal, ConsentIsTheLastChoiceAndSurvivesReopening) {
  testing::TempDir dir;
  {
    auto j = RouteJournal::open(dir.file("device.db"));
    ASSERT_TRUE(j.ok());
    EXPECT_FALSE((*j)->consent("tech", "confidential")->has_value());
    ASSERT_TRUE((*j)->set_consent("tech", "confidential", true).ok());
    ASSERT_TRUE((*j)->set_consent("tech", "confidential", false).ok());
    ASSERT_TRUE((*j)->set_consent("other", "confidential", true).ok());
  }
  auto j = RouteJournal::open(dir.file("device.db"));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(**(*j)->consent("tech", "confidential"), false);
  EXPECT_EQ(**(*j)->consent("other", "confidential"), true);
}

TEST(RouteJournal, AQueuedAskIsCompletedInPlaceAndCounted) {
  testing::TempDir dir;
  auto j = RouteJournal::open(dir.file("device.db"));
  ASSERT_TRUE(j.ok());
  AskRecord q;
  q.task = "incident";
  q.data_class = "restricted";
  q.question = "write it up";
  q.status = "queued";
  q.offline = true;
  q.reason = "refused: no permitted route";
  ASSERT_TRUE((*j)->record(&q).ok());
  auto queued = (*j)->queued();
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].question, "write it up");
  AskRecord done = (*queued)[0];
  done.status = "answered";
  done.route = "cloud";
  done.offline = false;
  done.skew = "model file bbbb on the cloud, aaaa on the device";
  ASSERT_TRUE((*j)->finish_queued(done).ok());
  // The question is gone from the file and its write-ahead log, not only from the row.
  for (const std::string file : {"device.db", "device.db-wal"}) {
    std::string bytes;
    if (std::filesystem::exists(dir.file(file))) bytes = testing::read_file(dir.file(file));
    EXPECT_EQ(bytes.find("write it up"), std::string::npos) << file;
  }
  EXPECT_EQ((*j)->finish_queued(done).code(), StatusCode::not_found);  // only a queued row
  EXPECT_TRUE((*j)->queued()->empty());
  auto refused = answered("incident", "", 0);
  refused.status = "refused";
  refused.route = "";
  refused.offline = true;
  ASSERT_TRUE((*j)->record(&refused).ok());
  auto local = answered("lookup", "local", 12);
  local.offline = true;
  local.fallback = true;
  ASSERT_TRUE((*j)->record(&local).ok());
  auto c = (*j)->counts();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->asks, 3);
  EXPECT_EQ(c->answered, 2);
  EXPECT_EQ(c->refused, 1);
  EXPECT_EQ(c->by_route["cloud"], 1);
  EXPECT_EQ(c->by_route["local"], 1);
  EXPECT_EQ(c->offline, 3);           // the queued one stays an ask made offline...
  EXPECT_EQ(c->offline_answered, 2);  // ...answered once the link came back
  EXPECT_EQ(c->fallbacks, 1);
  EXPECT_EQ(c->cloud_answers, 1);
  EXPECT_EQ(c->skewed, 1);
  auto recent = (*j)->recent(10);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].skew, done.skew);
  EXPECT_EQ((*recent)[0].to_json()["parity"]["same"], false);
}

TEST(RouteJournal, ADamagedStoreIsAClearError) {
  testing::TempDir dir;
  testing::write_file(dir.file("device.db"), std::string(4096, 'x'));
  auto j = RouteJournal::open(dir.file("device.db"));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::data_loss) << j.status().to_string();
  EXPECT_NE(j.status().message().find("device.db"), std::string::npos) << j.status().to_string();
}

TEST(ModelFingerprint, ParsesKeelsAndNothingElse) {
  const std::string hash(64, 'c');
  auto f = parse_fingerprint("keel-0.1.0+sha256:" + hash);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->keel_version, "0.1.0");
  EXPECT_EQ(f->sha256, hash);
  EXPECT_FALSE(parse_fingerprint("keel").has_value());
  EXPECT_FALSE(parse_fingerprint("fp_44709d6fcb").has_value());
  EXPECT_FALSE(parse_fingerprint("keel-0.1.0+sha256:abc").has_value());
  EXPECT_FALSE(parse_fingerprint("keel-+sha256:" + hash).has_value());
  EXPECT_FALSE(parse_fingerprint("keel-0.1.0+sha256:" + std::string(64, 'G')).has_value());
}

}  // namespace
}  // namespace keel::route
