// The mobile-vision model and its updates: the committed CNNs classify the held-out camera-like
// digits through Keel's runtime as their training report says; image sets and frames are
// checked; signed updates are refused when tampered with, expired, aimed at another device
// class, not newer or outside the rollout; A/B slots commit a healthy update, roll back a
// failing one and never offer a rejected update again.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "core/hash.h"
#include "core/json.h"
#include "edge/canary_check.h"
#include "edge/image_classifier.h"
#include "edge/program_slots.h"
#include "support/test_support.h"

namespace keel::edge {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }

DeviceProfile device(const std::string& name) {
  auto d = load_device_profile(repo("examples/mobile-vision/devices/" + name + ".yaml"));
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? *d : portable_only_profile();
}

// A prepared program for `model` (models/vision/<model>.onnx) on `device_name`, written to `out`.
std::string prepare(const std::string& model, const std::string& device_name, const std::string& out) {
  auto p = prepare_program(testing::read_file(repo("models/vision/" + model + ".onnx")),
                           device(device_name), {});
  EXPECT_TRUE(p.ok()) << p.status().message();
  auto id = write_program(out, *p);
  EXPECT_TRUE(id.ok()) << id.status().message();
  return out;
}

ImageClassifier classifier(const std::string& program_path) {
  auto loaded = load_program(program_path);
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  auto c = ImageClassifier::from_program(std::move(*loaded));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return std::move(*c);
}

ImageSet images(const std::string& name) {
  auto s = load_image_set(repo("examples/mobile-vision/" + name));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

TEST(VisionModel, HeldOutAccuracyThroughKeelMatchesTheTrainingReport) {
  testing::TempDir dir;
  auto report = parse_json(testing::read_file(repo("models/vision/training-report.json")));
  ASSERT_TRUE(report.ok());
  const ImageSet heldout = images("heldout.kimg");
  ASSERT_EQ(heldout.count(), (*report)["heldout_images"].get<size_t>());
  for (const std::string model : {"keel-vision", "keel-vision-small"}) {
    const ImageClassifier c = classifier(prepare(model, "cpu-only", dir.file(model + ".kprog")));
    auto e = evaluate_on_set(c, heldout);
    ASSERT_TRUE(e.ok()) << e.status().message();
    const double recorded = (*report)["models"][model]["heldout_accuracy"].get<double>();
    // PyTorch and Keel's kernels may round one borderline image differently.
    EXPECT_NEAR(e->accuracy, recorded, 1.5 / static_cast<double>(heldout.count())) << model;
    EXPECT_EQ(c.program().runtime->graph().metadata.at("keel.heldout_accuracy"),
              fmt::format("{:.4f}", recorded));
  }
}

TEST(VisionModel, TheInt8ModelKeepsItsAccuracyThroughKeelAndOnnxRuntime) {
  testing::TempDir dir;
  const ImageClassifier c = classifier(prepare("keel-vision-int8", "cpu-only", dir.file("q.kprog")));
  const ImageSet heldout = images("heldout.kimg");
  auto e = evaluate_on_set(c, heldout);
  ASSERT_TRUE(e.ok()) << e.status().message();
  const double recorded = std::stod(c.program().runtime->graph().metadata.at("keel.heldout_accuracy"));
  EXPECT_NEAR(e->accuracy, recorded, 1.5 / static_cast<double>(heldout.count()));  // the recipe's numpy QDQ
  const Json oracle = *parse_json(testing::read_file(repo("tests/edge/data/vision_qdq.expected.json")));
  EXPECT_NEAR(static_cast<double>(e->correct), oracle["heldout_correct"].get<double>(), 2.0);  // ONNX Runtime int8
  EXPECT_GT(e->accuracy, 0.97);
}

TEST(VisionModel, TheMainModelIsMoreAccurateAndLargerThanItsFallback) {
  auto report = parse_json(testing::read_file(repo("models/vision/training-report.json")));
  ASSERT_TRUE(report.ok());
  const Json& m = (*report)["models"];
  EXPECT_GT(m["keel-vision"]["heldout_accuracy"].get<double>(), 0.95);
  EXPECT_GT(m["keel-vision-small"]["heldout_accuracy"].get<double>(), 0.90);
  EXPECT_GT(m["keel-vision"]["heldout_accuracy"].get<double>(),
            m["keel-vision-small"]["heldout_accuracy"].get<double>());
  auto big = prepare_program(testing::read_file(repo("models/vision/keel-vision.onnx")), device("cpu-only"), {});
  auto small = prepare_program(testing::read_file(repo("models/vision/keel-vision-small.onnx")), device("cpu-only"), {});
  ASSERT_TRUE(big.ok() && small.ok());
  EXPECT_GT(big->partitions.total_macs, 4 * small->partitions.total_macs);
}

TEST(VisionModel, OnTheNpuWithoutDepthwiseTheMainModelIsOutOfBoundsAndTheFallbackFits) {
  auto spec_bounds = ProgramBounds{0.9, 4};  // examples/mobile-vision.yaml's edge: section
  auto big = prepare_program(testing::read_file(repo("models/vision/keel-vision.onnx")), device("phone-npu"), {});
  ASSERT_TRUE(big.ok());
  Status refused = check_bounds(*big, spec_bounds);
  EXPECT_EQ(refused.code(), StatusCode::failed_precondition) << refused.message();
  auto dw = prepare_program(testing::read_file(repo("models/vision/keel-vision.onnx")), device("phone-npu-dw"), {});
  ASSERT_TRUE(dw.ok());
  EXPECT_TRUE(check_bounds(*dw, spec_bounds).ok()) << check_bounds(*dw, spec_bounds).message();
}

TEST(ImageSets, BrokenFilesAreRefusedByName) {
  const std::string good = testing::read_file(repo("examples/mobile-vision/canary.kimg"));
  ASSERT_TRUE(parse_image_set(good, "canary").ok());
  for (const auto& [bytes, why] : std::vector<std::pair<std::string, std::string>>{
           {good.substr(0, good.size() - 1), "truncated"},
           {"KIMG2\n" + good.substr(6), "magic"},
           {good.substr(0, 10), "header cut"},
           {"", "empty"}}) {
    auto s = parse_image_set(bytes, "canary");
    EXPECT_EQ(s.status().code(), StatusCode::invalid_argument) << why;
    EXPECT_NE(s.status().message().find("canary"), std::string::npos) << why;
  }
}

TEST(ImageClassifier, FramesOfAnySizeAndColourArePreprocessedToTheModelsInput) {
  testing::TempDir dir;
  const ImageClassifier c = classifier(prepare("keel-vision-small", "cpu-only", dir.file("s.kprog")));
  EXPECT_EQ(c.input().width, 32);
  // A uniform RGB frame of 64x48: every input value is the same normalised grey.
  std::vector<uint8_t> rgb(64 * 48 * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = 200, rgb[i + 1] = 100, rgb[i + 2] = 50;
  auto t = c.preprocess({64, 48, 3, rgb});
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->shape, (std::vector<int64_t>{1, 1, 32, 32}));
  const double grey = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;
  for (float v : t->data) EXPECT_NEAR(v, (grey / 255 - 0.5) / 0.25, 1e-4);
  // A 16x16 grey frame is enlarged; a frame whose bytes do not match its size is refused.
  std::vector<uint8_t> small(16 * 16, 255);
  EXPECT_TRUE(c.classify({16, 16, 1, small}).ok());
  EXPECT_EQ(c.classify({16, 17, 1, small}).status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(c.classify({0, 0, 1, {}}).status().code(), StatusCode::invalid_argument);
}

// ---- signed updates -----------------------------------------------------------------------------

Ed25519KeyFile key(uint8_t seed) {
  std::array<uint8_t, 32> s{};
  s.fill(seed);
  return Ed25519KeyFile{"test publisher", ed25519_from_seed(s), false};
}

UpdateTerms terms(int64_t version, double min_accuracy = 0.9) {
  UpdateTerms t;
  t.model_id = "vision";
  t.version = version;
  t.expires_at = static_cast<int64_t>(std::time(nullptr)) + 3600;
  t.min_accuracy = min_accuracy;
  return t;
}

struct Published {
  testing::TempDir dir;
  VerifiedUpdate update;
};

std::unique_ptr<Published> publish(const std::string& model, const UpdateTerms& t, uint8_t seed = 1) {
  auto p = std::make_unique<Published>();
  prepare(model, "cpu-only", p->dir.file("in.kprog"));
  auto u = publish_update(p->dir.file("in.kprog"), t, key(seed), p->dir.file("out"));
  EXPECT_TRUE(u.ok()) << u.status().message();
  p->update = *u;
  return p;
}

TEST(ProgramUpdate, APublishedUpdateVerifiesOnlyUnderItsKeyAndUntouched) {
  auto p = publish("keel-vision-small", terms(3));
  const std::string manifest = p->dir.file("out/update.json");
  auto ok = verify_update(manifest, key(1).keys.public_key);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->update.terms.version, 3);
  EXPECT_EQ(ok->update.terms.device_classes, (std::vector<std::string>{"budget-2022"}));
  EXPECT_EQ(ok->update.program_sha256, sha256_hex(ok->program_bytes));

  EXPECT_EQ(verify_update(manifest, key(2).keys.public_key).status().code(), StatusCode::permission_denied);

  // The payload edited (version 3 -> 9) without re-signing.
  std::string text = testing::read_file(manifest);
  const auto at = text.find("\\\"version\\\": 3");
  ASSERT_NE(at, std::string::npos) << text;
  std::string edited = text;
  edited.replace(at, 14, "\\\"version\\\": 9");
  testing::write_file(manifest, edited);
  auto tampered = verify_update(manifest, key(1).keys.public_key);
  EXPECT_EQ(tampered.status().code(), StatusCode::permission_denied) << tampered.status().message();
  testing::write_file(manifest, text);

  // One byte of the program changed.
  const std::string program = p->dir.file("out/" + ok->update.program_path);
  std::string bytes = testing::read_file(program);
  bytes[bytes.size() / 2] ^= 1;
  testing::write_file(program, bytes);
  auto corrupt = verify_update(manifest, key(1).keys.public_key);
  EXPECT_EQ(corrupt.status().code(), StatusCode::data_loss) << corrupt.status().message();
}

TEST(ProgramUpdate, TheDeviceRefusesExpiredForeignOldAndNotYetRolledOutUpdates) {
  ProgramUpdate u;
  u.terms = terms(5);
  u.terms.device_classes = {"budget-2022"};
  u.program_device_class = "budget-2022";
  const DeviceIdentity me{"device-1", "budget-2022"};
  const int64_t now = u.terms.expires_at - 10;
  EXPECT_TRUE(check_update_applies(u, me, now, 4).ok());
  EXPECT_EQ(check_update_applies(u, me, u.terms.expires_at, 4).code(), StatusCode::failed_precondition);
  EXPECT_EQ(check_update_applies(u, {"device-1", "phone-2024"}, now, 4).code(), StatusCode::failed_precondition);
  EXPECT_EQ(check_update_applies(u, me, now, 5).code(), StatusCode::permission_denied);
  EXPECT_EQ(check_update_applies(u, me, now, 7).code(), StatusCode::permission_denied);
  u.terms.rollout_percent = 0;
  EXPECT_EQ(check_update_applies(u, me, now, 4).code(), StatusCode::unavailable);
}

TEST(ProgramUpdate, RolloutBucketsAreUniformAndADeviceStaysInAsTheRolloutWidens) {
  int in30 = 0;
  for (int i = 0; i < 2000; ++i) {
    const int b = rollout_bucket("vision", "device-" + std::to_string(i));
    ASSERT_GE(b, 0);
    ASSERT_LT(b, 100);
    in30 += b < 30;
    EXPECT_EQ(b, rollout_bucket("vision", "device-" + std::to_string(i)));
  }
  EXPECT_GT(in30, 2000 * 0.25);
  EXPECT_LT(in30, 2000 * 0.35);
}

// ---- A/B slots ----------------------------------------------------------------------------------

HealthCheck always(bool pass) {
  return [pass](const std::string& path, const ProgramUpdate&) -> Result<HealthReport> {
    KEEL_ASSIGN_OR_RETURN(LoadedProgram p, load_program(path));
    HealthReport r;
    r.passed = pass;
    r.reason = pass ? "fine" : "scripted failure";
    return r;
  };
}

TEST(ProgramSlots, AHealthyUpdateIsCommittedAFailingOneRolledBackAndNeverOfferedAgain) {
  testing::TempDir dir;
  const DeviceIdentity me{"device-1", "budget-2022"};
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto v1 = publish("keel-vision-small", terms(1));
  auto v2 = publish("keel-vision", terms(2));
  auto v3 = publish("keel-vision", terms(3));
  auto slots = ProgramSlots::open(dir.file("slots"));
  ASSERT_TRUE(slots.ok()) << slots.status().message();
  EXPECT_FALSE(slots->active_program_path());

  auto first = slots->install(v1->update, me, now, always(true));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->outcome, "installed");
  EXPECT_EQ(slots->active(), "a");
  EXPECT_EQ(slots->installed_version("vision"), 1);

  auto failing = slots->install(v2->update, me, now, always(false));
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->outcome, "rolled-back");
  EXPECT_EQ(failing->reason, "scripted failure");
  EXPECT_EQ(slots->active(), "a");
  EXPECT_EQ(slots->slots().at("b").state, "rejected");
  EXPECT_TRUE(load_program(*slots->active_program_path()).ok());

  auto again = slots->install(v2->update, me, now, always(true));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, "refused");
  auto old = slots->install(v1->update, me, now, always(true));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->outcome, "already-installed");

  auto third = slots->install(v3->update, me, now, always(true));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->outcome, "installed");
  EXPECT_EQ(slots->active(), "b");
  // v1 is now older than what is installed: a replay is a downgrade.
  auto replay = slots->install(v1->update, me, now, always(true));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->outcome, "refused");
  EXPECT_NE(replay->reason.find("not newer"), std::string::npos) << replay->reason;

  // The user goes back to v1's slot; a reopened folder says the same.
  ASSERT_TRUE(slots->roll_back("test").ok());
  auto reopened = ProgramSlots::open(dir.file("slots"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->active(), "a");
  EXPECT_TRUE(reopened->recoveries().empty());
  auto counts = reopened->outcome_counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["installed"], 2);
  EXPECT_EQ((*counts)["rolled-back"], 2);  // the failed health check and the user's
  EXPECT_EQ((*counts)["refused"], 2);
}

TEST(ProgramSlots, TheCanaryCheckRunsTheProgramAndSaysWhichBoundFailed) {
  testing::TempDir dir;
  const DeviceIdentity me{"device-1", "budget-2022"};
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto good = publish("keel-vision", terms(1, 0.9));
  auto slots = ProgramSlots::open(dir.file("slots"));
  ASSERT_TRUE(slots.ok());
  auto installed = slots->install(good->update, me, now, canary_health_check(images("canary.kimg"), {0, 1}));
  ASSERT_TRUE(installed.ok());
  EXPECT_EQ(installed->outcome, "installed") << installed->reason;
  ASSERT_TRUE(installed->health);
  EXPECT_GE(installed->health->accuracy, 0.9);
  EXPECT_EQ(installed->health->images, 60u);

  // An update asking for perfection from the small model, and one whose latency bound no CPU meets.
  auto strict = publish("keel-vision-small", terms(2, 1.0));
  auto fast = publish("keel-vision", terms(3, 0.5));
  auto r1 = slots->install(strict->update, me, now, canary_health_check(images("canary.kimg"), {0, 1}));
  ASSERT_TRUE(r1.ok());
  if (r1->outcome == "rolled-back") {
    EXPECT_NE(r1->reason.find("canary accuracy"), std::string::npos) << r1->reason;
  } else {
    EXPECT_EQ(r1->health->accuracy, 1.0);  // the small model happened to be perfect on the canaries
  }
  auto r2 = slots->install(fast->update, me, now, canary_health_check(images("canary.kimg"), {1e-6, 1}));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->outcome, "rolled-back");
  EXPECT_NE(r2->reason.find("canary p99"), std::string::npos) << r2->reason;
  EXPECT_TRUE(load_program(*slots->active_program_path()).ok());
}

TEST(ProgramSlots, ADamagedActiveSlotIsAbandonedForTheOtherGoodOne) {
  testing::TempDir dir;
  const DeviceIdentity me{"device-1", "budget-2022"};
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto v1 = publish("keel-vision-small", terms(1));
  auto v2 = publish("keel-vision", terms(2));
  {
    auto slots = ProgramSlots::open(dir.file("slots"));
    ASSERT_TRUE(slots.ok());
    ASSERT_EQ(slots->install(v1->update, me, now, always(true))->outcome, "installed");
    ASSERT_EQ(slots->install(v2->update, me, now, always(true))->outcome, "installed");
    EXPECT_EQ(slots->active(), "b");
  }
  std::string bytes = testing::read_file(dir.file("slots/slot-b.kprog"));
  bytes[100] ^= 0x40;
  testing::write_file(dir.file("slots/slot-b.kprog"), bytes);
  auto slots = ProgramSlots::open(dir.file("slots"));
  ASSERT_TRUE(slots.ok());
  EXPECT_EQ(slots->active(), "a");
  ASSERT_EQ(slots->recoveries().size(), 1u);
  EXPECT_NE(slots->recoveries()[0].find("no longer verifies"), std::string::npos);
}

}  // namespace
}  // namespace keel::edge
