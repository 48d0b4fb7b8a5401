// One test suite for both journal stores: SQLite (a file) and PostgreSQL (a throwaway server
// started by the test). Appends are atomic and ordered, leases are exclusive (and expire on the
// store's clock, a ManualClock here, so nothing waits), and concurrent workers never get the
// same case.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "agent/journal.h"
#include "core/clock.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel::agent {
namespace {

class JournalTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      pg_ = std::make_unique<keel::testing::PostgresServer>();
      ASSERT_TRUE(pg_->ok()) << pg_->error();
      location_ = pg_->uri();
    } else {
      location_ = dir_.file("journal.db");
    }
    store_ = open();
  }
  std::unique_ptr<JournalStore> open(const Clock& clock = system_clock()) {
    auto j = open_journal(location_, clock);
    EXPECT_TRUE(j.ok()) << j.status().to_string();
    return j.ok() ? std::move(*j) : nullptr;
  }
  static CaseInfo info(const std::string& id) {
    CaseInfo c;
    c.id = id;
    c.workflow = "wf";
    c.version = 3;
    c.input = {{"case_id", id}, {"n", 1}};
    c.principal = "agent";
    c.created_ns = c.updated_ns = wall_now_ns();
    return c;
  }
  static JournalRecord rec(std::string kind, int64_t step, Json data = Json::object()) {
    JournalRecord r;
    r.kind = std::move(kind);
    r.step = step;
    r.data = std::move(data);
    return r;
  }

  keel::testing::TempDir dir_;
  std::unique_ptr<keel::testing::PostgresServer> pg_;
  std::string location_;
  std::unique_ptr<JournalStore> store_;
};

TEST_P(JournalTest, CreatesReadsAndListsCases) {
  ASSERT_TRUE(store_);
  ASSERT_TRUE(store_->create_case(info("c1"), rec("case_started", -1, {{"x", 1}})).ok());
  ASSERT_TRUE(store_->create_case(info("c2"), rec("case_started", -1)).ok());
  auto again = store_->create_case(info("c1"), rec("case_started", -1));
  EXPECT_EQ(again.code(), StatusCode::already_exists);
  auto c1 = store_->get_case("c1");
  ASSERT_TRUE(c1.ok()) << c1.status().to_string();
  EXPECT_EQ(c1->workflow, "wf");
  EXPECT_EQ(c1->version, 3);
  EXPECT_EQ(c1->input["n"], 1);
  EXPECT_EQ(c1->state, CaseState::running);
  EXPECT_EQ(store_->get_case("nope").status().code(), StatusCode::not_found);
  auto all = store_->list_cases(std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  auto records = store_->read("c1");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].seq, 1);
  EXPECT_EQ((*records)[0].data["x"], 1);
}

TEST_P(JournalTest, AppendsAreOrderedAtomicAndRefuseAStaleWriter) {
  ASSERT_TRUE(store_);
  ASSERT_TRUE(store_->create_case(info("c"), rec("case_started", -1)).ok());
  ASSERT_TRUE(store_->append("c", 1, {rec("intent", 0, {{"tool", "t"}}), rec("outcome", 0, {{"result", 5}})}, std::nullopt).ok());
  // A second writer that read the journal before those appends loses.
  auto stale = store_->append("c", 1, {rec("intent", 1)}, std::nullopt);
  EXPECT_EQ(stale.code(), StatusCode::aborted) << stale.to_string();
  ASSERT_TRUE(store_->append("c", 3, {rec("case_completed", -1)}, CaseState::completed).ok());
  auto records = store_->read("c");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 4u);
  for (size_t i = 0; i < records->size(); ++i) EXPECT_EQ((*records)[i].seq, static_cast<int64_t>(i + 1));
  EXPECT_EQ((*records)[2].data["result"], 5);
  EXPECT_EQ(store_->get_case("c")->state, CaseState::completed);
  auto done = store_->list_cases(CaseState::completed);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->size(), 1u);
  // Survives reopening.
  store_ = open();
  EXPECT_EQ(store_->read("c")->size(), 4u);
}

TEST_P(JournalTest, LeasesAreExclusiveUntilTheyExpire) {
  ASSERT_TRUE(store_);
  ManualClock clock(0, wall_now_ns());
  auto store = open(clock);  // the same journal, its leases timed by the test's clock
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->create_case(info("c"), rec("case_started", -1)).ok());
  ASSERT_TRUE(store->acquire("c", "w1", 60).ok());
  auto taken = store->acquire("c", "w2", 60);
  EXPECT_EQ(taken.code(), StatusCode::failed_precondition);
  EXPECT_NE(taken.message().find("w1"), std::string::npos);
  EXPECT_TRUE(store->renew("c", "w1", 60).ok());
  EXPECT_EQ(store->renew("c", "w2", 60).code(), StatusCode::aborted);
  ASSERT_TRUE(store->release("c", "w1").ok());
  EXPECT_TRUE(store->acquire("c", "w2", 0.2).ok());
  clock.advance_ns(199'000'000);
  EXPECT_EQ(store->acquire("c", "w3", 60).code(), StatusCode::failed_precondition)
      << "0.2 s have not passed";
  clock.advance_ns(2'000'000);
  EXPECT_TRUE(store->acquire("c", "w3", 60).ok()) << "an expired lease is free";
  // A worker known to be dead loses its lease at once; a stale take-over is refused.
  EXPECT_TRUE(store->take_over("c", "w3", "w4", 60).ok());
  EXPECT_EQ(store->take_over("c", "w3", "w5", 60).code(), StatusCode::aborted);
  EXPECT_EQ(store->get_case("c")->lease_owner, "w4");
  // A worker that stops renewing loses the case to claim() once its lease runs out.
  auto held = store->claim("w5", 60);
  ASSERT_TRUE(held.ok()) << held.status().to_string();
  EXPECT_FALSE(*held) << "w4's lease still holds";
  clock.advance_ns(61'000'000'000);
  auto expired = store->claim("w5", 60);
  ASSERT_TRUE(expired.ok()) << expired.status().to_string();
  EXPECT_EQ(expired->value_or(""), "c");
  EXPECT_EQ(store->get_case("c")->lease_owner, "w5");
}

TEST_P(JournalTest, ClaimHandsOutRunnableCasesOnce) {
  ASSERT_TRUE(store_);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(store_->create_case(info("c" + std::to_string(i)), rec("case_started", -1)).ok());
  ASSERT_TRUE(store_->append("c0", 1, {rec("case_completed", -1)}, CaseState::completed).ok());
  // Three workers, each with its own connection, claim concurrently.
  std::mutex mutex;
  std::multiset<std::string> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      auto j = open_journal(location_);
      ASSERT_TRUE(j.ok());
      for (;;) {
        auto id = (*j)->claim("w" + std::to_string(w), 60);
        ASSERT_TRUE(id.ok()) << id.status().to_string();
        if (!*id) break;
        std::lock_guard lock(mutex);
        claimed.insert(**id);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(claimed.size(), 11u);
  for (const auto& id : claimed) EXPECT_EQ(claimed.count(id), 1u) << id << " was claimed twice";
  EXPECT_EQ(claimed.count("c0"), 0u) << "a completed case is not runnable";
  // Nothing left while the leases hold.
  auto none = store_->claim("w9", 60);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

INSTANTIATE_TEST_SUITE_P(Stores, JournalTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(PostgresJournal, ADatabaseRestartIsUnavailableThenRecovers) {
  keel::testing::PostgresServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto j = open_journal(pg.uri());
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  CaseInfo c;
  c.id = "c";
  c.workflow = "wf";
  c.principal = "agent";
  JournalRecord first;
  first.kind = "case_started";
  ASSERT_TRUE((*j)->create_case(c, first).ok());
  ASSERT_TRUE(pg.stop());
  auto down = (*j)->read("c");
  EXPECT_EQ(down.status().code(), StatusCode::unavailable) << down.status().to_string();
  ASSERT_TRUE(pg.start()) << pg.error();
  auto up = (*j)->read("c");
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  EXPECT_EQ(up->size(), 1u);
}

TEST(SqliteJournal, ACorruptFileIsDataLoss) {
  keel::testing::TempDir dir;
  keel::testing::write_file(dir.file("j.db"), std::string(8192, 'x'));
  auto j = open_journal(dir.file("j.db"));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::data_loss) << j.status().to_string();
}

}  // namespace
}  // namespace keel::agent
