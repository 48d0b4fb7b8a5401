#include "edge/vision_pipeline.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "core/file_io.h"
#include "core/statistics.h"

namespace keel::edge {
namespace {

using Clock = std::chrono::steady_clock;

Status keep_frame(const std::string& dir, const VideoFrame& f) {
  std::string pgm = fmt::format("P5\n{} {}\n255\n", f.width, f.height);
  pgm.append(reinterpret_cast<const char*>(f.luma.data()), f.luma.size());
  return write_file_atomically(
      (std::filesystem::path(dir) / fmt::format("frame-{:06}.pgm", f.index)).string(), pgm);
}

}  // namespace

Result<PipelineReport> run_vision_pipeline(VideoSource& source, const PipelineModels& models,
                                           ThermalSensor& sensor, ThermalGovernor& governor,
                                           const PipelineOptions& options,
                                           const std::function<void(const FrameOutcome&)>& on_frame) {
  if (!models.main) return Status::invalid_argument("the pipeline needs a model");
  if (!options.keep_frames_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.keep_frames_dir, ec);
    if (ec) return Status::internal(fmt::format("cannot create {}: {}", options.keep_frames_dir, ec.message()));
  }
  PipelineReport report;
  EnergyMeter energy;
  report.energy_source = energy.source();
  const auto start = Clock::now();
  const auto frame_period = std::chrono::duration<double>(options.fps > 0 ? 1.0 / options.fps : 0.0);
  double credit = 0;
  std::optional<Clock::time_point> first_classified, last_classified;
  const bool paced = options.pace && options.fps > 0;
  while (options.max_frames == 0 || report.frames_read < options.max_frames) {
    // When the camera delivers this frame; a paced source is waited for.
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 frame_period * static_cast<double>(report.frames_read));
    if (paced) std::this_thread::sleep_until(due);
    KEEL_ASSIGN_OR_RETURN(std::optional<VideoFrame> frame, source.next());
    if (!frame) break;
    const auto arrived = paced ? due : Clock::now();
    ++report.frames_read;
    if (paced && Clock::now() - due > frame_period) {
      // A camera keeps the newest frame only: the next one replaced this one while the
      // pipeline was busy with an earlier frame.
      FrameOutcome missed;
      missed.frame = frame->index;
      missed.late = true;
      ++report.frames_late;
      on_frame(missed);
      continue;
    }

    const ThermalReading reading = sensor.read();
    const ThermalDecision d = governor.update(reading);
    if (!d.reason.empty()) report.thermal_events.push_back({frame->index, d.level, d.reason});
    report.max_thermal_level = std::max(report.max_thermal_level, d.level);

    FrameOutcome out;
    out.frame = frame->index;
    out.thermal_level = d.level;
    out.celsius = reading.celsius;
    credit += d.rate_factor;
    if (credit + 1e-9 < 1) {
      ++report.frames_dropped;
      on_frame(out);
      continue;
    }
    credit -= 1;
    const bool small = d.small_model && models.small;
    const ImageClassifier& model = small ? *models.small : *models.main;
    KEEL_ASSIGN_OR_RETURN(ImageClassification c,
                          model.classify({frame->width, frame->height, 1, frame->luma}));
    out.classified = true;
    out.model = small ? models.small_name : models.main_name;
    out.label = model.labels()[static_cast<size_t>(c.label)];
    out.score = c.score;
    out.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - arrived).count();
    report.latencies_ms.push_back(out.latency_ms);
    if (!first_classified) first_classified = arrived;
    last_classified = arrived;
    ++report.frames_classified;
    ++report.frames_by_model[out.model];
    if (!options.keep_frames_dir.empty()) KEEL_RETURN_IF_ERROR(keep_frame(options.keep_frames_dir, *frame));
    on_frame(out);
  }
  if (report.frames_classified >= 2) {
    const double span = std::chrono::duration<double>(*last_classified - *first_classified).count();
    if (span > 0) report.sustained_fps = static_cast<double>(report.frames_classified - 1) / span;
  }
  report.p50_ms = percentile(report.latencies_ms, 0.5);
  report.p99_ms = percentile(report.latencies_ms, 0.99);
  report.energy_joules = energy.joules();
  report.joules_per_frame =
      report.frames_classified ? report.energy_joules / static_cast<double>(report.frames_classified) : 0;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  report.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  return report;
}

}  // namespace keel::edge
