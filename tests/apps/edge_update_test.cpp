// keel edge update as a device runs it: a signed program update installed into the inactive
// slot and committed after its canary health check; the process SIGKILLed at every step of an
// update, after which the device still has a working program (it classifies the canaries) and
// the same update then installs; a failed health check rolled back; tampered, unsigned,
// downgraded and foreign updates refused with their own exit code.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <csignal>

#include "core/json.h"
#include "core/key_file.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }
std::string device(const std::string& name) {
  return repo("examples/mobile-vision/devices/" + name + ".yaml");
}
const std::string kCanary = repo("examples/mobile-vision/canary.kimg");

struct Publisher {
  testing::TempDir dir;
  std::string key_path = dir.file("publisher.json");
  std::string trusted;

  Publisher() {
    auto r = testing::run_keel({"model", "keygen", "--publisher", "test", "--out", key_path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto key = read_ed25519_key_file(key_path, {"keel_model_signing_key", "publisher", ""});
    EXPECT_TRUE(key.ok()) << key.status().message();
    trusted = format_ed25519_public_key(key->keys.public_key);
  }

  // Prepares models/vision/<model>.onnx for the cpu-only device and publishes it as `version`.
  std::string publish(const std::string& model, int version, std::vector<std::string> extra = {}) {
    const std::string program = dir.file(model + ".kprog");
    auto prepared = testing::run_keel({"edge", "prepare", repo("models/vision/" + model + ".onnx"),
                                       "--device", device("cpu-only"), "-o", program});
    EXPECT_EQ(prepared.exit_code, 0) << prepared.err;
    const std::string out = dir.file(fmt::format("v{}", version));
    std::vector<std::string> args = {"edge", "update", "publish", program, "--key", key_path,
                                     "--model-id", "vision", "--version", std::to_string(version),
                                     "-o", out};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = testing::run_keel(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return out + "/update.json";
  }
};

testing::CommandResult install(const std::string& update, const std::string& slots,
                               const std::string& trusted, const std::string& fault = "") {
  std::map<std::string, std::string> env;
  if (!fault.empty()) env["KEEL_EDGE_UPDATE_FAULT"] = fault;
  return testing::run_command({testing::keel_binary(), "edge", "update", "install", update,
                               "--slots", slots, "--device", device("cpu-only"), "--canary",
                               kCanary, "--trust", trusted, "--device-id", "device-7", "--json"},
                              "", env);
}

Json status(const std::string& slots) {
  auto r = testing::run_keel({"edge", "update", "status", "--slots", slots, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r.out);
  return j.ok() ? *j : Json();
}

// The active program classifies the canary set; returns its accuracy (-1 when it cannot).
double active_accuracy(const std::string& slots) {
  const Json s = status(slots);
  if (!s["active"].is_string()) return -1;
  auto r = testing::run_keel({"edge", "classify", slots + "/slot-" + s["active"].get<std::string>() + ".kprog",
                              "--images", kCanary, "--json"});
  if (r.exit_code != 0) return -1;
  return (*parse_json(r.out))["accuracy"].get<double>();
}

TEST(EdgeUpdate, InstallsIntoTheInactiveSlotAfterTheCanaryCheck) {
  Publisher pub;
  testing::TempDir dir;
  const std::string slots = dir.file("slots");
  auto first = install(pub.publish("keel-vision-small", 1), slots, pub.trusted);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  Json out = *parse_json(first.out);
  EXPECT_EQ(out["outcome"], "installed");
  EXPECT_EQ(out["slot"], "a");
  EXPECT_TRUE(out["health"]["passed"].get<bool>());
  EXPECT_EQ(out["health"]["images"], 60);

  auto second = install(pub.publish("keel-vision", 2), slots, pub.trusted);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ((*parse_json(second.out))["slot"], "b");
  EXPECT_GE(active_accuracy(slots), 0.9);
  const Json s = status(slots);
  EXPECT_EQ(s["active"], "b");
  EXPECT_EQ(s["slots"]["a"]["state"], "good");
  EXPECT_EQ(s["outcomes"]["installed"], 2);

  auto table = testing::run_keel({"edge", "update", "status", "--slots", slots});
  EXPECT_NE(table.out.find("b (active)"), std::string::npos) << table.out;
  auto back = testing::run_keel({"edge", "update", "rollback", "--slots", slots});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(status(slots)["active"], "a");
}

TEST(EdgeUpdate, KilledAtEveryStepTheDeviceKeepsAWorkingProgramAndTheUpdateThenInstalls) {
  Publisher pub;
  const std::string v1 = pub.publish("keel-vision-small", 1);
  const std::string v2 = pub.publish("keel-vision", 2);
  // A version whose latency bound no device meets: its health check fails, so it rolls back.
  const std::string slow = pub.publish("keel-vision", 3, {"--max-p99-ms", "0.000001"});
  for (const std::string step :
       {"staging", "staged", "switched", "health-checked", "committed", "rolled-back"}) {
    SCOPED_TRACE(step);
    testing::TempDir dir;
    const std::string slots = dir.file("slots");
    ASSERT_EQ(install(v1, slots, pub.trusted).exit_code, 0);
    const bool failing = step == "rolled-back";
    auto killed = install(failing ? slow : v2, slots, pub.trusted, "kill:" + step);
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.out << killed.err;

    // Whatever was interrupted, the device classifies with a verified program.
    EXPECT_GE(active_accuracy(slots), 0.85);
    const Json s = status(slots);
    if (step == "committed") {
      EXPECT_EQ(s["active"], "b");
      EXPECT_EQ(s["slots"]["b"]["version"], 2);
    } else {
      EXPECT_EQ(s["active"], "a") << s.dump();
      EXPECT_EQ(s["slots"]["a"]["version"], 1);
    }
    if (step == "switched" || step == "health-checked") {
      EXPECT_EQ(s["outcomes"]["recovered"], 1) << s.dump();
    }

    auto retry = install(v2, slots, pub.trusted);
    EXPECT_EQ(retry.exit_code, 0) << retry.out << retry.err;
    EXPECT_EQ(status(slots)["slots"][status(slots)["active"].get<std::string>()]["version"], 2);
  }
}

TEST(EdgeUpdate, AFailedHealthCheckRollsBackAndTheUpdateIsNotTriedAgain) {
  Publisher pub;
  testing::TempDir dir;
  const std::string slots = dir.file("slots");
  ASSERT_EQ(install(pub.publish("keel-vision-small", 1), slots, pub.trusted).exit_code, 0);
  const std::string slow = pub.publish("keel-vision", 2, {"--max-p99-ms", "0.000001"});
  auto failed = install(slow, slots, pub.trusted);
  EXPECT_EQ(failed.exit_code, 5) << failed.out << failed.err;
  Json out = *parse_json(failed.out);
  EXPECT_EQ(out["outcome"], "rolled-back");
  EXPECT_NE(out["reason"].get<std::string>().find("canary p99"), std::string::npos) << out.dump();
  EXPECT_EQ(status(slots)["active"], "a");
  auto again = install(slow, slots, pub.trusted);
  EXPECT_EQ(again.exit_code, 4) << again.out;
  EXPECT_NE(again.out.find("rejected on this device before"), std::string::npos) << again.out;
}

TEST(EdgeUpdate, TamperedUnsignedDowngradedAndForeignUpdatesAreRefused) {
  Publisher pub, stranger;
  testing::TempDir dir;
  const std::string slots = dir.file("slots");
  const std::string v1 = pub.publish("keel-vision-small", 1);
  const std::string v2 = pub.publish("keel-vision", 2);
  ASSERT_EQ(install(v2, slots, pub.trusted).exit_code, 0);

  auto downgrade = install(v1, slots, pub.trusted);
  EXPECT_EQ(downgrade.exit_code, 4) << downgrade.out;
  EXPECT_NE(downgrade.out.find("not newer than the installed v2"), std::string::npos) << downgrade.out;

  auto unsigned_by_us = install(stranger.publish("keel-vision", 9), slots, pub.trusted);
  EXPECT_EQ(unsigned_by_us.exit_code, 4) << unsigned_by_us.out;
  EXPECT_NE(unsigned_by_us.out.find("not by the pinned key"), std::string::npos) << unsigned_by_us.out;

  const std::string v3 = pub.publish("keel-vision", 3);
  std::string text = testing::read_file(v3);
  const auto at = text.find("\\\"version\\\": 3");
  ASSERT_NE(at, std::string::npos);
  testing::write_file(v3, text.replace(at, 14, "\\\"version\\\": 4"));
  auto tampered = install(v3, slots, pub.trusted);
  EXPECT_EQ(tampered.exit_code, 4) << tampered.out;
  EXPECT_NE(tampered.out.find("signature does not verify"), std::string::npos) << tampered.out;

  auto foreign = install(pub.publish("keel-vision", 5, {"--device-class", "phone-2024"}), slots, pub.trusted);
  EXPECT_EQ(foreign.exit_code, 4) << foreign.out;
  EXPECT_NE(foreign.out.find("not this device's 'budget-2022'"), std::string::npos) << foreign.out;

  auto later = install(pub.publish("keel-vision", 6, {"--rollout", "0"}), slots, pub.trusted);
  EXPECT_EQ(later.exit_code, 3) << later.out;

  EXPECT_EQ(status(slots)["active"], "a");
  EXPECT_EQ(status(slots)["outcomes"]["refused"], 4);
  EXPECT_GE(active_accuracy(slots), 0.9);
}

}  // namespace
}  // namespace keel
