// keel edge prepare|inspect as a user runs them: the plan printed with its coverage and the
// reason each node stays on the CPU, the spec's bounds refusing a device (exit 2) or selecting
// the fallback model, and a prepared program verified (and refused when altered).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }
const std::string kModel = "tests/edge/data/cnn_mobile.onnx";
std::string device(const std::string& name) {
  return repo("examples/mobile-vision/devices/" + name + ".yaml");
}

TEST(EdgeCommand, PrepareWritesAVerifiedProgramAndSaysWhatStaysOnTheCpu) {
  testing::TempDir dir;
  auto r = testing::run_keel({"edge", "prepare", repo(kModel), "--device", device("phone-npu"),
                              "-o", dir.file("m.kprog")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("delegate coverage: 97.9% of MACs, 71.4% of nodes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("npu does not run depthwise convolutions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 BatchNormalization folded"), std::string::npos) << r.out;
  auto inspected = testing::run_keel({"edge", "inspect", dir.file("m.kprog")});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.out << inspected.err;
  EXPECT_NE(inspected.out.find("7 partition(s)"), std::string::npos) << inspected.out;

  auto bench = testing::run_keel({"edge", "bench", dir.file("m.kprog"), "--frames", "5", "--json"});
  ASSERT_EQ(bench.exit_code, 0) << bench.out << bench.err;
  Json timing = *parse_json(bench.out);
  EXPECT_EQ(timing["frames"], 5);
  EXPECT_GT(timing["p50_ms"].get<double>(), 0.0);
  EXPECT_GE(timing["p99_ms"].get<double>(), timing["p50_ms"].get<double>());

  std::string bytes = testing::read_file(dir.file("m.kprog"));
  bytes[bytes.size() / 2] ^= 0x01;
  testing::write_file(dir.file("m.kprog"), bytes);
  auto refused = testing::run_keel({"edge", "inspect", dir.file("m.kprog")});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("content hash does not match"), std::string::npos) << refused.err;
}

TEST(EdgeCommand, TheSpecsBoundsRefuseADeviceOrSelectTheFallbackModel) {
  testing::TempDir dir;
  const std::string spec = repo("examples/mobile-vision.yaml");  // max_partitions: 4
  auto refused = testing::run_keel({"edge", "prepare", repo(kModel), "--device",
                                    device("phone-npu"), "-o", dir.file("a.kprog"), "--spec", spec});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("7 partitions on phone-npu exceed the bound 4"), std::string::npos)
      << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.kprog")));

  // The driver that runs depthwise convolutions fits the bounds.
  auto fits = testing::run_keel({"edge", "prepare", repo(kModel), "--device",
                                 device("phone-npu-dw"), "-o", dir.file("b.kprog"), "--spec", spec});
  EXPECT_EQ(fits.exit_code, 0) << fits.out << fits.err;

  auto fallback = testing::run_keel({"edge", "prepare", repo(kModel), "--device",
                                     device("phone-npu"), "-o", dir.file("c.kprog"), "--spec", spec,
                                     "--fallback", repo("tests/edge/data/cnn_windows.onnx")});
  ASSERT_EQ(fallback.exit_code, 0) << fallback.out << fallback.err;
  EXPECT_NE(fallback.err.find("preparing the fallback"), std::string::npos) << fallback.err;
  auto inspected = testing::run_keel({"edge", "inspect", dir.file("c.kprog"), "--json"});
  ASSERT_EQ(inspected.exit_code, 0);
  EXPECT_NE(inspected.out.find("\"input_shape\": [\n    1,\n    4,\n    13,\n    11\n  ]"),
            std::string::npos)
      << inspected.out;
}

TEST(EdgeCommand, AnUnsupportedOperatorIsRefusedByName) {
  testing::TempDir dir;
  // The document classifier has no image input, but a graph with an operator the runtime lacks
  // is refused before any plan: make one by renaming an operator in the mobile CNN's bytes.
  std::string bytes = testing::read_file(repo(kModel));
  const auto at = bytes.find("HardSwish");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 9, "HardSwisH");
  testing::write_file(dir.file("odd.onnx"), bytes);
  auto r = testing::run_keel({"edge", "prepare", dir.file("odd.onnx"), "--device",
                              device("cpu-only"), "-o", dir.file("odd.kprog")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("operator HardSwisH is not supported"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keel
