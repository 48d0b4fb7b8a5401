// Field sync under real network faults: the device and the private cloud in two network
// namespaces joined by a veth pair, `keel sync serve` in one on a real PostgreSQL, `keel field`
// in the other. The link is taken down, dropped by an nftables rule, flapped and throttled
// (tc tbf); the device is killed mid-sync and the server mid-push. Every test ends with the
// server's ledger holding each of the device's mutations exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& relative) { return testing::source_dir() + "/" + relative; }

class FieldNetwork : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "these tests put the device and the cloud in network namespaces: run as root";
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    const int n = static_cast<int>(getpid() % 200) + 20;
    cloud_ns_ = "keel-cloud-" + std::to_string(getpid());
    device_ns_ = "keel-dev-" + std::to_string(getpid());
    cloud_ip_ = "10.77." + std::to_string(n) + ".1";
    const std::string device_ip = "10.77." + std::to_string(n) + ".2";
    const std::string vc = "kc" + std::to_string(getpid()), vd = "kd" + std::to_string(getpid());
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", cloud_ns_},
             {"ip", "netns", "add", device_ns_},
             {"ip", "link", "add", vc, "type", "veth", "peer", "name", vd},
             {"ip", "link", "set", vc, "netns", cloud_ns_},
             {"ip", "link", "set", vd, "netns", device_ns_},
             {"ip", "-n", cloud_ns_, "addr", "add", cloud_ip_ + "/24", "dev", vc},
             {"ip", "-n", device_ns_, "addr", "add", device_ip + "/24", "dev", vd},
             {"ip", "-n", cloud_ns_, "link", "set", "lo", "up"},
             {"ip", "-n", device_ns_, "link", "set", "lo", "up"},
             {"ip", "-n", cloud_ns_, "link", "set", vc, "up"},
             {"ip", "-n", device_ns_, "link", "set", vd, "up"}}) {
      auto r = testing::run_command(argv);
      ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << " " << argv[2] << ": " << r.err;
    }
    device_link_ = vd;
    cloud_link_ = vc;
    // The device's key, and the spec with the cloud's address on the egress allow-list.
    std::string keys = "tenants:\n";
    for (const std::string device : {"tablet-a", "tablet-b"}) {
      auto key = testing::run_keel({"keygen", "--tenant", device, "--json"});
      ASSERT_EQ(key.exit_code, 0) << key.err;
      Json k = *parse_json(key.out);
      testing::write_file(dir_.file(device == "tablet-a" ? "device.key" : "tablet-b.key"), k["key"].get<std::string>() + "\n");
      keys += k["key_file_entry"].get<std::string>() + "\n";
    }
    testing::write_file(dir_.file("keys.yaml"), keys);
    std::string spec = testing::read_file(repo("examples/hybrid-field.yaml"));
    const std::string allow = "egress: {allow: [cloud.field.example]}";
    ASSERT_NE(spec.find(allow), std::string::npos);
    spec.replace(spec.find(allow), allow.size(), "egress: {allow: [cloud.field.example, \"" + cloud_ip_ + "\"]}");
    for (size_t at; (at = spec.find("../models/")) != std::string::npos;) spec.replace(at, 10, repo("models/"));
    for (size_t at; (at = spec.find("path: hybrid-field/")) != std::string::npos;)
      spec.replace(at, 19, "path: " + repo("examples/hybrid-field/"));
    testing::write_file(dir_.file("field.yaml"), spec);
    start_server();
  }

  void TearDown() override {
    server_.reset();
    testing::run_command({"ip", "netns", "del", cloud_ns_});
    testing::run_command({"ip", "netns", "del", device_ns_});
  }

  void start_server() {
    server_ = std::make_unique<testing::BackgroundProcess>(std::vector<std::string>{
        "ip", "netns", "exec", cloud_ns_, testing::keel_binary(), "sync", "serve", "--spec", dir_.file("field.yaml"),
        "--database", pg_.uri(), "--keys", dir_.file("keys.yaml"), "--host", cloud_ip_, "--port", "8095"});
    ASSERT_TRUE(server_->wait_for_output("listening on http://")) << server_->output();
  }

  std::vector<std::string> on_device(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", device_ns_});
    return argv;
  }
  testing::CommandResult device(const std::vector<std::string>& field_args) {
    std::vector<std::string> argv = {testing::keel_binary(), "field"};
    argv.insert(argv.end(), field_args.begin(), field_args.end());
    return testing::run_command(on_device(argv));
  }
  testing::CommandResult net(const std::vector<std::string>& argv) {
    auto r = testing::run_command(on_device(argv));
    EXPECT_EQ(r.exit_code, 0) << argv[0] << ": " << r.err;
    return r;
  }
  void make_changes(int from, int to) {
    for (int i = from; i <= to; ++i) {
      std::vector<std::string> args = {"do", "readings", "R-" + std::to_string(i), "value=" + std::to_string(i),
                                       "--store", dir_.file("device.db")};
      if (i == 1) args.insert(args.end(), {"--device", "tablet-a"});
      auto r = device(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  std::vector<std::string> sync_args(int timeout_ms = 3000, const std::string& store = "device.db",
                                     const std::string& key = "device.key") {
    return {testing::keel_binary(), "field", "sync", "--store", dir_.file(store), "--spec", dir_.file("field.yaml"),
            "--url", "http://" + cloud_ip_ + ":8095", "--key-file", dir_.file(key), "--timeout-ms",
            std::to_string(timeout_ms), "--json"};
  }
  testing::CommandResult sync(int timeout_ms = 3000) { return testing::run_command(on_device(sync_args(timeout_ms))); }
  // The ledger holds exactly 1..n for the device: nothing lost, nothing applied twice.
  void expect_ledger(int n) {
    EXPECT_EQ(pg_.scalar("SELECT count(*) FROM keel_sync_ledger WHERE device = 'tablet-a'"), std::to_string(n));
    EXPECT_EQ(pg_.scalar("SELECT count(DISTINCT seq) FROM keel_sync_ledger WHERE device = 'tablet-a' "
                         "AND seq BETWEEN 1 AND " + std::to_string(n)),
              std::to_string(n));
    EXPECT_EQ(pg_.scalar("SELECT count(*) FROM keel_sync_records WHERE collection = 'readings' AND version > 0"),
              std::to_string(n));
  }
  int queued() {
    auto r = device({"status", "--store", dir_.file("device.db"), "--json"});
    auto j = parse_json(r.out);
    return j.ok() ? (*j)["queued"].get<int>() : -1;
  }

  testing::PostgresServer pg_;
  testing::TempDir dir_;
  std::string cloud_ns_, device_ns_, cloud_ip_, device_link_, cloud_link_;
  std::unique_ptr<testing::BackgroundProcess> server_;
};

TEST_F(FieldNetwork, APartitionQueuesWorkAndTheHealedLinkDeliversItOnce) {
  make_changes(1, 5);
  net({"ip", "link", "set", device_link_, "down"});
  auto cut = sync(1000);
  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  make_changes(6, 10);  // offline work goes on
  EXPECT_EQ(queued(), 10);
  net({"ip", "link", "set", device_link_, "up"});
  auto healed = sync();
  ASSERT_EQ(healed.exit_code, 0) << healed.out << healed.err;
  EXPECT_EQ((*parse_json(healed.out))["applied"], 10);
  EXPECT_EQ(queued(), 0);
  expect_ledger(10);
}

TEST_F(FieldNetwork, ADropRuleTimesOutAndFlappingConvergesWithoutDuplicates) {
  make_changes(1, 3);
  net({"nft", "add", "table", "inet", "keel"});
  net({"nft", "add", "chain", "inet", "keel", "out", "{ type filter hook output priority 0 ; }"});
  net({"nft", "add", "rule", "inet", "keel", "out", "ip", "daddr", cloud_ip_, "drop"});
  auto dropped = sync(800);
  EXPECT_EQ(dropped.exit_code, 1) << dropped.out << dropped.err;
  EXPECT_EQ(queued(), 3);
  net({"nft", "delete", "table", "inet", "keel"});

  // The link flaps while the device works and syncs.
  std::atomic<bool> stop{false};
  std::thread flapper([&] {
    for (bool up = false; !stop; up = !up) {
      testing::run_command(on_device({"ip", "link", "set", device_link_, up ? "up" : "down"}));
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
    }
  });
  int batch = 4;
  for (int round = 0; round < 6; ++round, batch += 4) {
    make_changes(batch, batch + 3);
    (void)sync(600);  // may fail: the link is flapping
  }
  stop = true;
  flapper.join();
  net({"ip", "link", "set", device_link_, "up"});
  auto settled = sync();
  ASSERT_EQ(settled.exit_code, 0) << settled.out << settled.err;
  EXPECT_EQ(queued(), 0);
  expect_ledger(batch - 1);
}

TEST_F(FieldNetwork, ADeviceKilledWhileTheAnswerTricklesInResendsNothing) {
  make_changes(1, 60);
  // The cloud's answers at 24 kbit/s: the push lands and is applied at once, its answer takes
  // seconds, and the device is killed before it arrives. Its next sync pulls first and finds
  // its own changes: nothing is pushed twice.
  auto tc = testing::run_command({"ip", "netns", "exec", cloud_ns_, "tc", "qdisc", "add", "dev", cloud_link_, "root",
                                  "tbf", "rate", "24kbit", "burst", "1600", "latency", "400ms"});
  ASSERT_EQ(tc.exit_code, 0) << tc.err;
  testing::BackgroundProcess first(on_device(sync_args(20000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  first.signal(SIGKILL);
  EXPECT_EQ(first.wait(10000), 128 + SIGKILL);
  // Applied by the server, never heard of by the device.
  EXPECT_EQ(pg_.scalar("SELECT count(*) FROM keel_sync_ledger WHERE device = 'tablet-a'"), "60");
  EXPECT_EQ(queued(), 60);
  auto after = sync(30000);
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  Json report = *parse_json(after.out);
  EXPECT_EQ(report["pulled"], 60) << report;  // its own changes, found in the change log
  EXPECT_EQ(report["pushed"], 0) << report;   // so nothing is sent again
  EXPECT_EQ(queued(), 0);
  expect_ledger(60);
  EXPECT_EQ(pg_.scalar("SELECT count(*) FROM keel_sync_changes WHERE device = 'tablet-a'"), "60");
}

TEST_F(FieldNetwork, AServerRestartedMidPushAppliesEachMutationOnce) {
  make_changes(1, 60);
  net({"tc", "qdisc", "add", "dev", device_link_, "root", "tbf", "rate", "24kbit", "burst", "1600", "latency", "400ms"});
  testing::BackgroundProcess syncing(on_device(sync_args(3000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server_->signal(SIGKILL);
  server_->wait(10000);
  EXPECT_NE(syncing.wait(30000), 0) << syncing.output();
  start_server();
  auto after = sync(20000);
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  expect_ledger(60);
}

// Two technicians reassign the same job offline; the spec's rule for the assignee is `ask`: the
// second device's sync holds its change (exit 3) until its user decides with `keel field resolve`.
TEST_F(FieldNetwork, AnAskConflictIsHeldUntilTheTechnicianDecides) {
  auto on = [&](const std::string& store, std::vector<std::string> args) {
    args.insert(args.end(), {"--store", dir_.file(store)});
    return device(args);
  };
  auto sync_b = [&] { return testing::run_command(on_device(sync_args(3000, "b.db", "tablet-b.key"))); };
  ASSERT_EQ(on("device.db", {"do", "work_orders", "WO-9", "assignee=ana", "--device", "tablet-a"}).exit_code, 0);
  ASSERT_EQ(sync().exit_code, 0);
  ASSERT_EQ(on("b.db", {"do", "work_orders", "WO-0", "status=open", "--device", "tablet-b"}).exit_code, 0);
  ASSERT_EQ(sync_b().exit_code, 0);  // b now holds WO-9 at version 1
  ASSERT_EQ(on("device.db", {"do", "work_orders", "WO-9", "assignee=bo"}).exit_code, 0);
  auto mine = on("b.db", {"do", "work_orders", "WO-9", "assignee=cy"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_NE(mine.out.find("queued tablet-b:2"), std::string::npos) << mine.out;
  ASSERT_EQ(sync().exit_code, 0);
  auto held = sync_b();
  EXPECT_EQ(held.exit_code, 3) << held.out << held.err;
  Json report = *parse_json(held.out);
  EXPECT_EQ(report["held"], 1);
  EXPECT_EQ(report["conflicts"][0]["field"], "assignee");
  EXPECT_EQ(report["conflicts"][0]["rule"], "ask");
  auto status = on("b.db", {"status", "--json"});
  EXPECT_EQ((*parse_json(status.out))["held"], 1) << status.out;
  auto resolved = on("b.db", {"resolve", "2", "--keep"});
  ASSERT_EQ(resolved.exit_code, 0) << resolved.err;
  ASSERT_EQ(sync_b().exit_code, 0);
  ASSERT_EQ(sync().exit_code, 0);
  auto seen = on("device.db", {"get", "work_orders", "WO-9", "--json"});
  Json record = *parse_json(seen.out);
  EXPECT_EQ(record["fields"]["assignee"], "cy");
  EXPECT_EQ(record["version"], 3);
  EXPECT_EQ(on("b.db", {"resolve", "2", "--drop"}).exit_code, 1);  // nothing waits any more
  EXPECT_EQ(pg_.scalar("SELECT count(*) FROM keel_sync_ledger"), "4");
}

}  // namespace
}  // namespace keel
