// The camera pipeline's parts: YUV4MPEG2 frames read (and broken streams refused by frame),
// the thermal governor's levels with hysteresis, the sysfs sensor and the RAPL meter read from
// a scripted /sys tree, and the pipeline over the sample video: every frame classified or
// dropped by the governor's rate, the smaller model taking over when hot.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "edge/energy_meter.h"
#include "edge/vision_pipeline.h"
#include "support/test_support.h"

namespace keel::edge {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }

std::string y4m(const std::string& header, int frames, size_t frame_bytes) {
  std::string s = header + "\n";
  for (int i = 0; i < frames; ++i) s += "FRAME\n" + std::string(frame_bytes, static_cast<char>(i));
  return s;
}

TEST(Y4mReader, ReadsTheLumaOfEachFrameInEveryColourSpace) {
  for (const auto& [cs, bytes] : std::vector<std::pair<std::string, size_t>>{
           {"Cmono", 12}, {"C420jpeg", 12 + 2 * 4}, {"", 12 + 2 * 4}, {"C422", 12 + 2 * 2 * 3}, {"C444", 36}}) {
    auto r = Y4mReader::from_bytes(y4m("YUV4MPEG2 W4 H3 F30000:1001 Ip " + cs, 3, bytes));
    ASSERT_TRUE(r.ok()) << cs << ": " << r.status().message();
    EXPECT_NEAR(r->format().fps, 29.97, 0.01);
    for (int i = 0; i < 3; ++i) {
      auto f = r->next();
      ASSERT_TRUE(f.ok() && *f) << cs;
      EXPECT_EQ((*f)->index, i);
      EXPECT_EQ((*f)->luma, std::vector<uint8_t>(12, static_cast<uint8_t>(i))) << cs;
    }
    auto end = r->next();
    ASSERT_TRUE(end.ok());
    EXPECT_FALSE(*end);
  }
}

TEST(Y4mReader, BrokenStreamsAreRefusedNamingTheFrame) {
  EXPECT_FALSE(Y4mReader::from_bytes("RIFF....").ok());
  EXPECT_FALSE(Y4mReader::from_bytes("YUV4MPEG2 W4 Cmono\n").ok());             // no height
  EXPECT_FALSE(Y4mReader::from_bytes("YUV4MPEG2 W4 H4 It Cmono\n").ok());       // interlaced
  EXPECT_FALSE(Y4mReader::from_bytes("YUV4MPEG2 W4 H4 C411\n").ok());           // colour space
  EXPECT_FALSE(Y4mReader::from_bytes("YUV4MPEG2 W99999 H4 Cmono\n").ok());      // too large
  EXPECT_FALSE(Y4mReader::from_bytes("YUV4MPEG2 Wx H4 Cmono\n").ok());          // not a number
  EXPECT_FALSE(Y4mReader::from_bytes(std::string(2000, 'Y')).ok());             // endless header

  std::string cut = y4m("YUV4MPEG2 W4 H3 Cmono", 2, 12);
  cut.pop_back();
  auto r = Y4mReader::from_bytes(cut);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->next().ok());
  auto second = r->next();
  EXPECT_EQ(second.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(second.status().message().find("frame 1 is cut short"), std::string::npos);

  auto bad = Y4mReader::from_bytes("YUV4MPEG2 W4 H3 Cmono\nFRAMX\n" + std::string(12, 'a'));
  ASSERT_TRUE(bad.ok());
  EXPECT_NE(bad->next().status().message().find("frame 0 does not start with FRAME"), std::string::npos);
}

TEST(VideoFiles, AnH264FileDecodesToTheFramesOfItsY4mOriginal) {
  auto mp4 = open_video(repo("examples/mobile-vision/digits.mp4"));
  ASSERT_TRUE(mp4.ok()) << mp4.status().message();
  auto y4m = open_video(repo("examples/mobile-vision/digits.y4m"));
  ASSERT_TRUE(y4m.ok()) << y4m.status().message();
  EXPECT_EQ((*mp4)->format().width, 64);
  EXPECT_NEAR((*mp4)->format().fps, 15.0, 1e-9);
  int frames = 0;
  double worst = 0;
  while (true) {
    auto a = (*mp4)->next();
    auto b = (*y4m)->next();
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().message() << b.status().message();
    ASSERT_EQ(a->has_value(), b->has_value()) << "frame " << frames;
    if (!*a) break;
    double diff = 0;
    for (size_t i = 0; i < (**a).luma.size(); ++i) diff += std::abs(int((**a).luma[i]) - int((**b).luma[i]));
    worst = std::max(worst, diff / static_cast<double>((**a).luma.size()));
    EXPECT_EQ((**a).index, frames);
    ++frames;
  }
  EXPECT_EQ(frames, 96);
  EXPECT_LT(worst, 6.0);  // mean absolute difference per pixel, after lossy H.264
}

TEST(VideoFiles, WhatIsNotAVideoIsRefusedByName) {
  testing::TempDir dir;
  testing::write_file(dir.file("notes.mp4"), "these are not frames");
  auto text = open_video(dir.file("notes.mp4"));
  EXPECT_EQ(text.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(text.status().message().find("notes.mp4"), std::string::npos) << text.status().message();
  EXPECT_EQ(open_video(dir.file("missing.mp4")).status().code(), StatusCode::not_found);
  // A truncated file decodes what it holds, then ends or says which frame broke.
  const std::string whole = testing::read_file(repo("examples/mobile-vision/digits.mp4"));
  testing::write_file(dir.file("cut.mp4"), whole.substr(0, whole.size() / 2));
  auto cut = open_video(dir.file("cut.mp4"));
  if (cut.ok()) {
    int frames = 0;
    for (;;) {
      auto f = (*cut)->next();
      if (!f.ok() || !*f) break;
      ++frames;
    }
    EXPECT_LT(frames, 96);
  } else {
    EXPECT_NE(cut.status().message().find("cut.mp4"), std::string::npos);
  }
}

TEST(ThermalGovernor, LowersTheRateThenSwitchesModelsAndStepsBackWithHysteresis) {
  ThermalGovernor g({45, 55, 3}, true);
  auto at = [&](double c) { return g.update({true, c, 0}); };
  EXPECT_EQ(at(30).level, 0);
  EXPECT_EQ(at(30).rate_factor, 1.0);
  auto warm = at(46);
  EXPECT_TRUE(warm.changed);
  EXPECT_EQ(warm.level, 1);
  EXPECT_EQ(warm.rate_factor, 0.5);
  EXPECT_FALSE(warm.small_model);
  EXPECT_NE(warm.reason.find("half rate"), std::string::npos) << warm.reason;
  auto hot = at(51);
  EXPECT_EQ(hot.level, 2);
  EXPECT_TRUE(hot.small_model);
  EXPECT_EQ(at(56).level, 3);
  EXPECT_EQ(at(56).rate_factor, 0.25);
  EXPECT_EQ(at(53).level, 3);  // within the margin of 55: stays
  EXPECT_EQ(at(51.9).level, 2);
  EXPECT_EQ(at(48).level, 2);  // 50 - 3 = 47 not reached
  EXPECT_EQ(at(46.9).level, 1);
  EXPECT_EQ(at(43).level, 1);
  auto cool = at(41.9);
  EXPECT_EQ(cool.level, 0);
  EXPECT_TRUE(cool.changed);
  EXPECT_EQ(cool.rate_factor, 1.0);
  // An invalid reading keeps the level and says so once.
  EXPECT_NE(g.update({}).reason, "");
  EXPECT_EQ(g.update({}).reason, "");

  ThermalGovernor no_small({45, 55, 3}, false);
  auto d = no_small.update({true, 51, 0});
  EXPECT_EQ(d.level, 2);
  EXPECT_FALSE(d.small_model);
  EXPECT_EQ(d.rate_factor, 0.25);  // no smaller model: the rate goes down further instead
}

TEST(ThermalSensors, SysfsZonesAndCpufreqAreReadFromTheGivenRoot) {
  testing::TempDir sys;
  std::filesystem::create_directories(sys.file("class/thermal/thermal_zone0"));
  std::filesystem::create_directories(sys.file("class/thermal/thermal_zone1"));
  std::filesystem::create_directories(sys.file("class/thermal/cooling_device0"));
  std::filesystem::create_directories(sys.file("devices/system/cpu/cpu0/cpufreq"));
  std::filesystem::create_directories(sys.file("devices/system/cpu/cpu1/cpufreq"));
  testing::write_file(sys.file("class/thermal/thermal_zone0/temp"), "47000\n");
  testing::write_file(sys.file("class/thermal/thermal_zone1/temp"), "52500\n");
  testing::write_file(sys.file("class/thermal/cooling_device0/temp"), "99000\n");
  testing::write_file(sys.file("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"), "1800000\n");
  testing::write_file(sys.file("devices/system/cpu/cpu1/cpufreq/scaling_cur_freq"), "1200000\n");
  SysfsThermalSensor sensor(sys.path());
  ThermalReading r = sensor.read();
  EXPECT_TRUE(r.valid);
  EXPECT_DOUBLE_EQ(r.celsius, 52.5);
  EXPECT_DOUBLE_EQ(r.cpu_mhz, 1500);
  EXPECT_FALSE(SysfsThermalSensor(sys.file("nothing")).read().valid);

  ScriptedThermalSensor scripted({40, 50});
  EXPECT_EQ(scripted.read().celsius, 40);
  EXPECT_EQ(scripted.read().celsius, 50);
  EXPECT_EQ(scripted.read().celsius, 50);
}

TEST(EnergyMeter, RaplCountsJoulesAcrossAWrapAndTheEstimateSaysItIsOne) {
  testing::TempDir cap;
  std::filesystem::create_directories(cap.file("intel-rapl:0"));
  testing::write_file(cap.file("intel-rapl:0/max_energy_range_uj"), "1000000000\n");
  testing::write_file(cap.file("intel-rapl:0/energy_uj"), "999000000\n");
  EnergyMeter rapl(cap.path());
  EXPECT_EQ(rapl.source(), "rapl");
  testing::write_file(cap.file("intel-rapl:0/energy_uj"), "999500000\n");
  EXPECT_NEAR(rapl.joules(), 0.5, 1e-6);
  testing::write_file(cap.file("intel-rapl:0/energy_uj"), "1500000\n");  // wrapped
  EXPECT_NEAR(rapl.joules(), 2.5, 1e-6);

  EnergyMeter estimate(cap.file("none"), 2.0);
  EXPECT_EQ(estimate.source(), "estimate-cpu-time");
  volatile double x = 0;
  for (int i = 0; i < 20'000'000; ++i) x = x + 1e-9 * i;
  EXPECT_GT(estimate.joules(), 0.0);
}

ImageClassifier classifier(const std::string& model) {
  auto p = prepare_program(testing::read_file(repo("models/vision/" + model + ".onnx")),
                           portable_only_profile(), {});
  EXPECT_TRUE(p.ok());
  auto loaded = parse_program(program_bytes(*p), model);
  EXPECT_TRUE(loaded.ok());
  auto c = ImageClassifier::from_program(std::move(*loaded));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return std::move(*c);
}

TEST(VisionPipeline, EveryFrameIsClassifiedOrDroppedAndTheSmallerModelRunsWhenHot) {
  const ImageClassifier main = classifier("keel-vision"), small = classifier("keel-vision-small");
  auto video = Y4mReader::open(repo("examples/mobile-vision/digits.y4m"));
  ASSERT_TRUE(video.ok()) << video.status().message();
  // 20 cool frames, 20 warm (half rate), 20 hot (smaller model), then cool again.
  std::vector<double> temps(20, 35.0);
  temps.insert(temps.end(), 20, 46.0);
  temps.insert(temps.end(), 20, 51.0);
  temps.insert(temps.end(), 36, 30.0);
  ScriptedThermalSensor sensor(temps);
  ThermalGovernor governor({45, 55, 3}, true);
  PipelineOptions options;
  options.pace = false;
  std::vector<FrameOutcome> frames;
  auto report = run_vision_pipeline(*video, {&main, "vision", &small, "vision-small"}, sensor, governor,
                                    options, [&](const FrameOutcome& f) { frames.push_back(f); });
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->frames_read, 96);
  EXPECT_EQ(report->frames_classified + report->frames_dropped, 96);
  // Half of the 20 warm and of the 20 hot frames, and the first cool one (the governor steps
  // down one level per reading: 2 -> 1 at frame 60, 1 -> 0 at frame 61).
  EXPECT_EQ(report->frames_dropped, 21);
  EXPECT_EQ(report->frames_by_model["vision-small"], 10);
  EXPECT_EQ(report->max_thermal_level, 2);
  ASSERT_EQ(report->thermal_events.size(), 4u);  // up, up, down, down
  EXPECT_EQ(report->thermal_events[0].frame, 20);
  EXPECT_EQ(report->thermal_events[3].frame, 61);
  EXPECT_GT(report->p50_ms, 0.0);
  EXPECT_GE(report->p99_ms, report->p50_ms);
  EXPECT_GT(report->peak_rss_bytes, 0);
  ASSERT_EQ(frames.size(), 96u);
  for (size_t i = 40; i < 60; ++i) {
    if (frames[i].classified) {
      EXPECT_EQ(frames[i].model, "vision-small") << i;
    }
  }
}

TEST(VisionPipeline, FramesTheCameraReplacedWhileThePipelineWasBusyAreLate) {
  const ImageClassifier main = classifier("keel-vision");
  auto video = open_video(repo("examples/mobile-vision/digits.y4m"));
  ASSERT_TRUE(video.ok());
  ScriptedThermalSensor sensor({30});
  ThermalGovernor governor({45, 55, 3}, false);
  // A camera three times faster than one classification (timed here, so that it holds on any
  // machine and under sanitizers), still far slower than reading a frame.
  const std::vector<uint8_t> blank(64 * 64, 128);
  double fastest = 1e9;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(main.classify({64, 64, 1, blank}).ok());
    fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  PipelineOptions options;
  options.fps = 3 / fastest;
  std::vector<FrameOutcome> frames;
  auto report = run_vision_pipeline(**video, {&main, "vision", nullptr, ""}, sensor, governor, options,
                                    [&](const FrameOutcome& f) { frames.push_back(f); });
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->frames_read, 96);
  EXPECT_GT(report->frames_late, 30);
  EXPECT_GE(report->frames_classified, 1);
  EXPECT_EQ(report->frames_classified + report->frames_dropped + report->frames_late, 96);
  for (const auto& f : frames) EXPECT_FALSE(f.late && f.classified);
}

}  // namespace
}  // namespace keel::edge
