// Field sync on a real PostgreSQL: two devices working offline, a sync server on loopback, and
// the server's ledger as the judge: every mutation a device made is applied exactly once, in
// the device's order, with conflicts resolved by the rules; a cut link, a push sent twice and a
// restarted database lose nothing and apply nothing twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "support/test_support.h"
#include "sync/device_store.h"
#include "sync/server_ledger.h"
#include "sync/sync_client.h"
#include "sync/sync_server.h"

namespace keel::sync {
namespace {

SyncRules field_rules() {
  SyncRules r;
  r.fields = {{"status", FieldRule::server_wins}, {"notes", FieldRule::merge}, {"reading", FieldRule::device_wins},
              {"assignee", FieldRule::ask}};
  return r;
}

class Sync : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    SyncServerOptions o;
    o.conninfo = pg_.uri();
    o.threads = 2;
    o.authenticate = [](std::string_view key) -> Result<std::string> {
      if (key == "key-a") return std::string("tablet-a");
      if (key == "key-b") return std::string("tablet-b");
      return Status::unauthenticated("unknown key");
    };
    auto server = SyncServer::create(o);
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    server_ = std::move(*server);
    io_ = std::thread([this] { server_->run(); });
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    auto ledger = ServerLedger::connect(pg_.uri());
    ASSERT_TRUE(ledger.ok());
    ledger_ = std::move(*ledger);
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (io_.joinable()) io_.join();
  }
  std::unique_ptr<DeviceStore> device(const std::string& id) {
    auto s = DeviceStore::open(dir_.file(id + ".db"), id);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  SyncEndpoint endpoint(const std::string& key) { return {url_, key, 5000}; }
  SyncReport sync(DeviceStore& d, const std::string& key) {
    SyncReport r;
    Status s = sync_once(d, field_rules(), endpoint(key), &r);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return r;
  }
  // The ledger holds exactly the device's sequence numbers 1..n (nothing lost, nothing twice).
  void expect_ledger(const std::string& device, int64_t n) {
    auto seqs = ledger_->applied_seqs(device);
    ASSERT_TRUE(seqs.ok());
    std::vector<int64_t> want;
    for (int64_t i = 1; i <= n; ++i) want.push_back(i);
    EXPECT_EQ(*seqs, want) << device;
  }
  Json server_fields(const std::string& record) {
    auto changes = ledger_->pull(0, 500);
    Json fields;
    for (const auto& c : *changes)
      if (c.record == record) fields = c.fields;
    return fields;
  }

  testing::PostgresServer pg_;
  testing::TempDir dir_;
  std::unique_ptr<SyncServer> server_;
  std::thread io_;
  std::string url_;
  std::unique_ptr<ServerLedger> ledger_;
};

TEST_F(Sync, OfflineWorkOfTwoDevicesConvergesByTheRules) {
  auto a = device("tablet-a");
  auto b = device("tablet-b");
  ASSERT_TRUE(a->change("work_orders", "WO-1", {{"status", "open"}, {"notes", "leak at pump 3"}, {"reading", 2.0}}).ok());
  sync(*a, "key-a");
  sync(*b, "key-b");  // both start from version 1
  EXPECT_EQ(b->record("work_orders", "WO-1")->version, 1);

  // Offline, both change the same record; a also edits it twice.
  ASSERT_TRUE(a->change("work_orders", "WO-1", {{"status", "in-progress"}}).ok());
  ASSERT_TRUE(a->change("work_orders", "WO-1", {{"notes", "seal ordered"}}).ok());
  ASSERT_TRUE(b->change("work_orders", "WO-1", {{"status", "cancelled"}, {"notes", "customer moved the visit"},
                                                 {"reading", 7.5}}).ok());
  SyncReport ra = sync(*a, "key-a");  // first back: applied as made
  EXPECT_EQ(ra.applied, 2);
  EXPECT_EQ(ra.conflicts, 0);
  SyncReport rb = sync(*b, "key-b");  // second: pulls, rebases, then pushes
  EXPECT_EQ(rb.applied, 1);
  EXPECT_EQ(rb.conflicts, 0) << "reconciled before replay: the push itself met no conflict";
  EXPECT_EQ(rb.reconcile.rebased, 1);
  EXPECT_EQ(rb.reconcile.conflicts.size(), 2u);  // status, notes (a left the reading alone)
  sync(*a, "key-a");

  const Json want = {{"status", "in-progress"},                            // server-wins
                     {"notes", "seal ordered\ncustomer moved the visit"},  // merge
                     {"reading", 7.5}};                                    // only b changed it
  EXPECT_EQ(server_fields("WO-1"), want);
  EXPECT_EQ(a->record("work_orders", "WO-1")->fields, want);
  EXPECT_EQ(b->record("work_orders", "WO-1")->fields, want);
  expect_ledger("tablet-a", 3);
  expect_ledger("tablet-b", 1);
  EXPECT_EQ(a->status()->queued, 0);
}

// Two edits of one record made offline in a row, while another device changed it: both land,
// in order, and the later one is not taken for a conflict with the earlier.
TEST_F(Sync, ChainedOfflineEditsLandInOrderAfterAnotherDevicesChange) {
  auto a = device("tablet-a");
  auto b = device("tablet-b");
  ASSERT_TRUE(a->change("work_orders", "WO-3", {{"status", "open"}, {"notes", "pump"}}).ok());
  sync(*a, "key-a");
  sync(*b, "key-b");
  ASSERT_TRUE(b->change("work_orders", "WO-3", {{"status", "in-progress"}}).ok());
  ASSERT_TRUE(b->change("work_orders", "WO-3", {{"status", "done"}}).ok());
  ASSERT_TRUE(a->change("work_orders", "WO-3", {{"notes", "pump, second visit"}}).ok());
  sync(*a, "key-a");
  SyncReport r = sync(*b, "key-b");
  EXPECT_EQ(r.applied, 2);
  EXPECT_TRUE(r.reconcile.conflicts.empty());
  EXPECT_EQ(server_fields("WO-3"), Json({{"status", "done"}, {"notes", "pump, second visit"}}));
  expect_ledger("tablet-b", 2);
}

// A store made again under a device id already used: its new mutation 1 is not mistaken for the
// old one (which would silently drop it).
TEST_F(Sync, ADeviceIdUsedAgainByANewStoreIsRefusedNotDropped) {
  {
    auto a = device("tablet-a");
    ASSERT_TRUE(a->change("readings", "R-1", {{"reading", 1}}).ok());
    sync(*a, "key-a");
  }
  std::filesystem::remove(dir_.file("tablet-a.db"));
  auto again = device("tablet-a");
  ASSERT_TRUE(again->change("readings", "R-2", {{"reading", 2}}).ok());
  SyncReport r;
  Status s = sync_once(*again, field_rules(), endpoint("key-a"), &r);
  EXPECT_EQ(s.code(), StatusCode::data_loss) << s.to_string();  // found in the pulled change log
  EXPECT_NE(s.message().find("device id already used"), std::string::npos) << s.message();
  EXPECT_EQ(again->status()->queued, 1);  // kept, not dropped
  // Pushed directly, the server refuses it too.
  auto m = again->queued();
  auto pushed = testing::http_request(url_, "POST", "/v1/sync/push", dump_json({{"mutations", {(*m)[0].to_json()}}}),
                                      {"Authorization: Bearer key-a"});
  EXPECT_EQ(pushed.status, 409) << pushed.body;
  expect_ledger("tablet-a", 1);
}

TEST_F(Sync, AnAskConflictWaitsForTheUser) {
  auto a = device("tablet-a");
  auto b = device("tablet-b");
  ASSERT_TRUE(a->change("work_orders", "WO-2", {{"assignee", "ana"}}).ok());
  sync(*a, "key-a");
  sync(*b, "key-b");
  ASSERT_TRUE(a->change("work_orders", "WO-2", {{"assignee", "bo"}}).ok());
  auto held = b->change("work_orders", "WO-2", {{"assignee", "cy"}});
  ASSERT_TRUE(held.ok());
  sync(*a, "key-a");
  SyncReport rb = sync(*b, "key-b");
  EXPECT_EQ(rb.reconcile.held, 1);
  EXPECT_EQ(rb.pushed, 0);
  EXPECT_EQ(b->status()->held, 1);
  EXPECT_EQ(server_fields("WO-2")["assignee"], "bo");
  // A later change of the same record waits behind the held one.
  auto later = b->change("work_orders", "WO-2", {{"notes", "keys at the front desk"}});
  ASSERT_TRUE(later.ok());
  sync(*b, "key-b");
  EXPECT_EQ(b->queued()->size(), 2u);  // neither was sent
  ASSERT_TRUE(b->resolve(held->seq, /*keep_device_values=*/true).ok());
  SyncReport after = sync(*b, "key-b");
  EXPECT_EQ(after.applied, 2);
  EXPECT_EQ(after.conflicts, 0);
  EXPECT_EQ(server_fields("WO-2")["assignee"], "cy");
  EXPECT_EQ(server_fields("WO-2")["notes"], "keys at the front desk");
  EXPECT_EQ(b->status()->held, 0);
  expect_ledger("tablet-b", 2);
}

TEST_F(Sync, APushSentTwiceIsAppliedOnce) {
  auto a = device("tablet-a");
  auto m = a->change("readings", "R-1", {{"reading", 1.5}});
  ASSERT_TRUE(m.ok());
  for (int i = 0; i < 3; ++i) {
    auto r = testing::http_request(url_, "POST", "/v1/sync/push", dump_json({{"mutations", {m->to_json()}}}),
                                   {"Authorization: Bearer key-a", "Content-Type: application/json"});
    ASSERT_EQ(r.status, 200) << r.body;
    Json result = (*parse_json(r.body))["results"][0];
    EXPECT_EQ(result["outcome"], i == 0 ? "applied" : "duplicate");
    EXPECT_EQ(result["version"], 1);
  }
  // The device never saw an answer; its own sync is answered "duplicate" and acknowledges it.
  SyncReport r = sync(*a, "key-a");
  EXPECT_EQ(a->status()->queued, 0);
  EXPECT_EQ(r.applied, 0);
  expect_ledger("tablet-a", 1);
  const std::string metrics = testing::http_request(url_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("keel_sync_mutations_total{outcome=\"duplicate\"} 2"), std::string::npos) << metrics;
}

TEST_F(Sync, AKeyOnlyPushesItsOwnDevicesMutationsAndBadBodiesAreRefused) {
  auto a = device("tablet-a");
  auto m = a->change("readings", "R-1", {{"reading", 1.5}});
  const std::string body = dump_json({{"mutations", {m->to_json()}}});
  auto as_b = testing::http_request(url_, "POST", "/v1/sync/push", body, {"Authorization: Bearer key-b"});
  EXPECT_EQ(as_b.status, 403) << as_b.body;
  EXPECT_EQ(testing::http_request(url_, "POST", "/v1/sync/push", body, {}).status, 401);
  EXPECT_EQ(testing::http_request(url_, "POST", "/v1/sync/push", body, {"Authorization: Bearer nope"}).status, 401);
  auto bad = testing::http_request(url_, "POST", "/v1/sync/push", R"({"mutations":[{"device":"tablet-a","seq":0}]})",
                                   {"Authorization: Bearer key-a"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("mutations[0].seq: must be at least 1"), std::string::npos) << bad.body;
  EXPECT_EQ(testing::http_request(url_, "GET", "/v1/sync/pull?limit=9999", "", {"Authorization: Bearer key-a"}).status, 400);
  EXPECT_EQ(testing::http_request(url_, "GET", "/v1/sync/pull?after=x", "", {"Authorization: Bearer key-a"}).status, 400);
  auto none = ledger_->applied_seqs("tablet-a");
  EXPECT_TRUE(none->empty());
}

TEST_F(Sync, AnUnreachableServerAndARestartedDatabaseLoseNothing) {
  auto a = device("tablet-a");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->change("readings", "R-" + std::to_string(i), {{"reading", i}}).ok());
  SyncReport r;
  Status s = sync_once(*a, field_rules(), {"http://127.0.0.1:1", "key-a", 500}, &r);
  EXPECT_EQ(s.code(), StatusCode::unavailable) << s.to_string();
  EXPECT_EQ(r.left, 5);
  ASSERT_TRUE(pg_.stop());
  s = sync_once(*a, field_rules(), endpoint("key-a"), &r);
  EXPECT_EQ(s.code(), StatusCode::unavailable) << s.to_string();
  EXPECT_EQ(a->status()->queued, 5);
  ASSERT_TRUE(pg_.start());
  SyncReport after = sync(*a, "key-a");
  EXPECT_EQ(after.applied, 5);
  expect_ledger("tablet-a", 5);
}

TEST_F(Sync, AStoreReopenedAfterAKillKeepsItsQueueAndRefusesAnotherDevice) {
  {
    auto a = device("tablet-a");
    ASSERT_TRUE(a->change("readings", "R-1", {{"reading", 1}}).ok());
  }
  auto again = device("tablet-a");
  EXPECT_EQ(again->status()->queued, 1);
  EXPECT_EQ(again->status()->next_seq, 2);
  auto other = DeviceStore::open(dir_.file("tablet-a.db"), "tablet-b");
  EXPECT_EQ(other.status().code(), StatusCode::failed_precondition);
  // A change log naming one of this device's mutations by a malformed id is refused, not guessed.
  Change bad{9, "readings", "R-1", 1, {{"reading", 1}}, "tablet-a:1x"};
  EXPECT_EQ(again->apply_changes({bad}).status().code(), StatusCode::data_loss);
  EXPECT_EQ(again->status()->cursor, 0);  // nothing of it was kept
}

}  // namespace
}  // namespace keel::sync
