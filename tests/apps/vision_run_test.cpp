// keel run for mobile-vision as a user runs it: the sample video classified by the spec's model
// (agreeing with the video's labels), the thermal budget lowering the frame rate and switching
// to the smaller model under a scripted heat-up, the smaller model chosen on a device the main
// model does not fit, an updated program run from the device's slots, the plan's metrics
// accepted by promtool, and strace proving that with raw_input_retention: none the process
// writes nothing but the results and metrics it was asked for (frames are stored only when the
// spec declares durable retention).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }
const std::string kSpec = repo("examples/mobile-vision.yaml");
const std::string kVideo = repo("examples/mobile-vision/digits.y4m");
const std::string kLabels = repo("examples/mobile-vision/digits.labels.json");

std::string temps(const testing::TempDir& dir, const std::vector<std::pair<int, double>>& runs) {
  std::string text;
  for (const auto& [n, c] : runs)
    for (int i = 0; i < n; ++i) text += std::to_string(c) + "\n";
  testing::write_file(dir.file("temps.txt"), text);
  return dir.file("temps.txt");
}

Json run_json(const std::vector<std::string>& extra, const std::string& stdin_data = "") {
  std::vector<std::string> args = {"run", kSpec, "--fps", "0", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = testing::run_keel(args, stdin_data);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = parse_json(r.out);
  return j.ok() ? *j : Json();
}

const std::string kNpu = repo("examples/mobile-vision/devices/phone-npu-dw.yaml");

TEST(VisionRun, TheSampleVideoIsClassifiedAsItsLabelsSay) {
  testing::TempDir dir;
  // On a device whose NPU runs the main model within the spec's bounds.
  const Json j = run_json({"--video", kVideo, "--labels", kLabels, "--device", kNpu,
                           "--thermal-script", temps(dir, {{1, 30}})});
  EXPECT_EQ(j["frames_read"], 96);
  EXPECT_EQ(j["frames_classified"], 96);
  EXPECT_EQ(j["model"], "vision");
  EXPECT_GE(j["agreement"].get<double>(), 0.9);
  EXPECT_GT(j["p50_ms"].get<double>(), 0.0);
  EXPECT_GT(j["energy_joules"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(j["max_thermal_level"], 0);

  // This machine has no accelerator: the spec's bounds send it the smaller CPU model. The same
  // frames arrive through standard input (a camera piped through ffmpeg).
  const Json piped = run_json({"--video", "-", "--labels", kLabels, "--thermal-script", temps(dir, {{1, 30}})},
                              testing::read_file(kVideo));
  EXPECT_EQ(piped["frames_classified"], 96);
  EXPECT_EQ(piped["model"], "vision-small");
  EXPECT_NE(piped["program"].get<std::string>().find("vision was refused"), std::string::npos);
  EXPECT_GE(piped["agreement"].get<double>(), 0.85);

  // The same video recorded as H.264 (decoded by FFmpeg's libraries).
  const Json h264 = run_json({"--video", repo("examples/mobile-vision/digits.mp4"), "--labels", kLabels,
                              "--device", kNpu, "--thermal-script", temps(dir, {{1, 30}})});
  EXPECT_EQ(h264["frames_classified"], 96);
  EXPECT_GE(h264["agreement"].get<double>(), 0.9);

  // Paced at the spec's 15 frames per second.
  auto paced = testing::run_keel({"run", kSpec, "--video", kVideo, "--frames", "15", "--json",
                                  "--thermal-script", temps(dir, {{1, 30}})});
  ASSERT_EQ(paced.exit_code, 0) << paced.err;
  const Json p = *parse_json(paced.out);
  EXPECT_EQ(p["fps_target"], 15.0);
  EXPECT_LE(p["frames_late"].get<int>(), 1);  // a classification takes ~1 ms of the 66 ms period
  EXPECT_LE(p["sustained_fps"].get<double>(), 15.5);
  EXPECT_GE(p["sustained_fps"].get<double>(), 10.0);
}

TEST(VisionRun, HeatLowersTheFrameRateThenSwitchesToTheSmallerModel) {
  testing::TempDir dir;
  const Json j = run_json({"--video", kVideo, "--labels", kLabels, "--metrics", dir.file("m.prom"),
                           "--device", kNpu, "--thermal-script", temps(dir, {{30, 35}, {30, 47}, {36, 52}})});
  EXPECT_EQ(j["frames_by_model"]["vision"], 30 + 15);
  EXPECT_EQ(j["max_thermal_level"], 2);
  EXPECT_GT(j["frames_dropped"].get<int64_t>(), 25);
  EXPECT_GT(j["frames_by_model"]["vision-small"].get<int64_t>(), 10);
  ASSERT_EQ(j["thermal_events"].size(), 2u);
  EXPECT_EQ(j["thermal_events"][0]["frame"], 30);
  EXPECT_NE(j["thermal_events"][1]["reason"].get<std::string>().find("smaller model"), std::string::npos);
  EXPECT_GE(j["agreement"].get<double>(), 0.85);

  const std::string metrics = testing::read_file(dir.file("m.prom"));
  for (const char* m : {"keel_delegate_coverage_ratio", "keel_inference_seconds_count",
                        "keel_energy_proxy_joules_total", "keel_thermal_state 2", "keel_rss_peak_bytes",
                        "keel_quality_agreement_ratio"})
    EXPECT_NE(metrics.find(m), std::string::npos) << m << "\n" << metrics;
  if (testing::have_program("promtool")) {
    auto check = testing::run_command({"promtool", "check", "metrics"}, metrics);
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  } else {
    KEEL_SKIP_OUTSIDE_CI("promtool is missing: tools/setup.sh installs it");
  }
}

TEST(VisionRun, OnADeviceTheMainModelDoesNotFitTheSmallerOneRuns) {
  testing::TempDir dir;
  auto r = testing::run_keel({"run", kSpec, "--video", kVideo, "--fps", "0", "--frames", "10",
                              "--device", repo("examples/mobile-vision/devices/phone-npu.yaml"),
                              "--thermal-script", temps(dir, {{1, 30}})});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("vision-small for the CPU: vision was refused on phone-npu"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("frames on vision-small"), std::string::npos) << r.out;
}

TEST(VisionRun, ADelegateThatFailsToPrepareLeavesTheSmallerCpuModelRunning) {
  testing::TempDir dir;
  const Json j = run_json({"--video", kVideo, "--labels", kLabels, "--frames", "20", "--device", kNpu,
                           "--inject-delegate-failure", "--thermal-script", temps(dir, {{1, 30}})});
  EXPECT_EQ(j["model"], "vision-small");
  EXPECT_EQ(j["delegate_coverage"], 0.0);
  EXPECT_NE(j["program"].get<std::string>().find("the accelerator delegate failed to prepare"), std::string::npos)
      << j["program"];
  EXPECT_EQ(j["frames_classified"], 20);
  EXPECT_GE(j["agreement"].get<double>(), 0.85);
}

TEST(VisionRun, WithRetentionNoneNothingButTheAskedForResultsIsWritten) {
  if (!testing::have_program("strace")) GTEST_FAIL() << "strace is missing: tools/setup.sh installs it";
  testing::TempDir dir;
  const std::string trace = dir.file("trace.txt");
  auto r = testing::run_command(
      {"strace", "-f", "-e", "trace=open,openat,creat,rename,renameat,renameat2,mkdir,mkdirat,link,symlink,socket,connect",
       "-o", trace, testing::keel_binary(), "run", kSpec, "--video", kVideo, "--fps", "0",
       "--results", dir.file("results.jsonl"), "--metrics", dir.file("m.prom"),
       "--thermal-script", temps(dir, {{1, 30}})});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> written;
  std::ifstream in(trace);
  const std::regex open_for_write(R"re((open|openat)\(.*"([^"]+)".*(O_WRONLY|O_RDWR|O_CREAT))re");
  const std::regex other_write(R"re((creat|rename\w*|mkdir\w*|link|symlink)\(.*"([^"]+)")re");
  int sockets = 0;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.find("= -1") != std::string::npos) continue;  // failed calls write nothing
    if (line.find("socket(") != std::string::npos || line.find("connect(") != std::string::npos) {
      ADD_FAILURE() << "a socket call succeeded: " << line;
      ++sockets;
    }
    if (std::regex_search(line, m, open_for_write) || std::regex_search(line, m, other_write))
      written.insert(m[2]);
  }
  const std::set<std::string> allowed = {dir.file("results.jsonl"), dir.file("m.prom"),
                                         dir.file("m.prom.tmp")};
  for (const auto& path : written) {
    EXPECT_TRUE(allowed.count(path) || path == "/dev/null" || path == "/dev/tty") << "wrote " << path;
  }
  EXPECT_TRUE(written.count(dir.file("results.jsonl")));
  EXPECT_EQ(sockets, 0);
  // The results hold labels and scores, never pixels.
  const std::string results = testing::read_file(dir.file("results.jsonl"));
  EXPECT_LT(results.size(), 96u * 200);
  EXPECT_NE(results.find("\"label\""), std::string::npos);

  auto refused = testing::run_keel({"run", kSpec, "--video", kVideo, "--keep-frames", dir.file("frames")});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("raw_input_retention: none"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("frames")));
}

TEST(VisionRun, ADurableSpecKeepsTheClassifiedFrames) {
  testing::TempDir dir;
  std::string spec = testing::read_file(kSpec);
  spec = std::regex_replace(spec, std::regex("raw_input_retention: none"), "raw_input_retention: durable");
  spec = std::regex_replace(spec, std::regex(R"(path: \.\./models/)"), "path: " + repo("models/"));
  testing::write_file(dir.file("durable.yaml"), spec);
  auto r = testing::run_keel({"run", dir.file("durable.yaml"), "--video", kVideo, "--fps", "0",
                              "--frames", "5", "--keep-frames", dir.file("frames"),
                              "--thermal-script", temps(dir, {{1, 30}})});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("frames/frame-000004.pgm")));
  EXPECT_EQ(testing::read_file(dir.file("frames/frame-000000.pgm")).substr(0, 9), "P5\n64 64\n");
}

TEST(VisionRun, AModelOverItsMemoryBudgetLeavesItsFallbackRunning) {
  testing::TempDir dir;
  // The main model replaced by one of 1.05 MB of weights (the document classifier's MLP) with a
  // budget of 1 MB: the smaller model runs instead; with the fallback over budget too, refused.
  std::string big;
  for (const auto& e : std::filesystem::directory_iterator(repo("models/doc-classifier")))
    if (e.path().extension() == ".onnx") big = e.path().string();
  ASSERT_FALSE(big.empty());
  std::string spec = testing::read_file(kSpec);
  spec = std::regex_replace(spec, std::regex(R"(sha256: [0-9a-f]{64}, )"), "");
  spec = std::regex_replace(spec, std::regex(R"(path: \.\./models/vision/keel-vision\.onnx)"), "path: " + big);
  spec = std::regex_replace(spec, std::regex(R"(path: \.\./models/)"), "path: " + repo("models/"));
  spec = std::regex_replace(spec, std::regex("max_ram_mb: 128"), "max_ram_mb: 1");
  testing::write_file(dir.file("tight.yaml"), spec);
  auto r = testing::run_keel({"run", dir.file("tight.yaml"), "--video", kVideo, "--fps", "0", "--frames", "5",
                              "--device", kNpu, "--thermal-script", temps(dir, {{1, 30}})});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("over max_ram_mb 1 MB"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("frames on vision-small"), std::string::npos) << r.out;

  spec = std::regex_replace(spec, std::regex(R"(path: \S+keel-vision-small\.onnx)"), "path: " + big);
  spec = std::regex_replace(spec, std::regex("max_ram_mb: 64"), "max_ram_mb: 1");
  testing::write_file(dir.file("tighter.yaml"), spec);
  auto refused = testing::run_keel({"run", dir.file("tighter.yaml"), "--video", kVideo, "--fps", "0",
                                    "--device", kNpu});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("does not fit its max_ram_mb either"), std::string::npos) << refused.err;
}

TEST(VisionRun, TheDevicesUpdatedProgramRunsFromItsSlot) {
  testing::TempDir dir;
  auto key = testing::run_keel({"model", "keygen", "--publisher", "t", "--out", dir.file("k.json")});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  auto trusted = parse_json(testing::read_file(dir.file("k.json")));
  ASSERT_TRUE(trusted.ok());
  ASSERT_EQ(testing::run_keel({"edge", "prepare", repo("models/vision/keel-vision-small.onnx"), "--device",
                               repo("examples/mobile-vision/devices/cpu-only.yaml"), "-o", dir.file("p.kprog")})
                .exit_code,
            0);
  ASSERT_EQ(testing::run_keel({"edge", "update", "publish", dir.file("p.kprog"), "--key", dir.file("k.json"),
                               "--model-id", "vision", "--version", "7", "-o", dir.file("u")})
                .exit_code,
            0);
  const std::string pub = (*trusted)["public_key"].get<std::string>();
  auto installed = testing::run_keel({"edge", "update", "install", dir.file("u/update.json"), "--slots",
                                      dir.file("slots"), "--device",
                                      repo("examples/mobile-vision/devices/cpu-only.yaml"), "--canary",
                                      repo("examples/mobile-vision/canary.kimg"), "--trust", pub,
                                      "--device-id", "d1"});
  ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;
  const Json j = run_json({"--video", kVideo, "--frames", "10", "--slots", dir.file("slots"),
                           "--metrics", dir.file("m.prom"), "--thermal-script", temps(dir, {{1, 30}})});
  EXPECT_EQ(j["model"], "vision v7");
  EXPECT_NE(testing::read_file(dir.file("m.prom")).find("keel_model_updates_total{outcome=\"installed\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace keel
