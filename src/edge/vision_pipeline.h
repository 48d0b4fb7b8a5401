// The on-device camera pipeline (scenario mobile-vision): frames from a video source, the
// thermal governor's decision per frame (frame rate, which model), preprocessing, inference and
// the label with its score. Frames live only in memory unless the caller names a folder to keep
// them in (which it may only do when the spec declares raw_input_retention: durable).
//
// Contract:
// - Every frame read is classified, dropped by the governor's rate (a camera delivering fewer
//   frames: with rate factor r, a share r of the frames is classified, evenly) or late.
// - With `pace`, frames are taken at `fps` (a video file plays at camera speed); latency is the
//   time from a frame's arrival (when the camera delivers it) to its result. A frame taken more
//   than one frame period after its arrival is `late`: a camera keeps only its newest frame, so
//   it was replaced while the pipeline was busy; it is counted and not classified.
// - `keep_frames_dir` empty: nothing derived from a frame but the result leaves the process
//   (the results go only to on_frame). Otherwise each classified frame is written there as a
//   binary PGM.
// - The report's figures are measured in the run: latency percentiles, sustained frame rate
//   (classified frames per second between the first and the last one's arrival), energy (EnergyMeter) per classified frame, peak RSS,
//   frames per model, and every governor decision with the frame it was taken at.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "edge/energy_meter.h"
#include "edge/image_classifier.h"
#include "edge/thermal_governor.h"
#include "edge/video_source.h"

namespace keel::edge {

struct PipelineModels {
  const ImageClassifier* main = nullptr;
  std::string main_name;
  const ImageClassifier* small = nullptr;  //!< may be null: no smaller model to switch to
  std::string small_name;
};

struct PipelineOptions {
  double fps = 15;   //!< the full frame rate
  bool pace = true;  //!< take frames at fps (else as fast as they come)
  std::string keep_frames_dir;
  int64_t max_frames = 0;  //!< 0: the whole source
};

struct FrameOutcome {
  int64_t frame = 0;
  bool classified = false;
  bool late = false;  //!< replaced by the next frame before the pipeline could take it
  std::string model;
  std::string label;
  float score = 0;
  double latency_ms = 0;
  int thermal_level = 0;
  double celsius = 0;
};

struct ThermalEvent {
  int64_t frame = 0;
  int level = 0;
  std::string reason;
};

struct PipelineReport {
  int64_t frames_read = 0, frames_classified = 0, frames_dropped = 0, frames_late = 0;
  std::vector<double> latencies_ms;
  double p50_ms = 0, p99_ms = 0;
  double sustained_fps = 0;
  double energy_joules = 0, joules_per_frame = 0;
  std::string energy_source;
  int64_t peak_rss_bytes = 0;
  int max_thermal_level = 0;
  std::vector<ThermalEvent> thermal_events;
  std::map<std::string, int64_t> frames_by_model;
};

[[nodiscard]] Result<PipelineReport> run_vision_pipeline(
    VideoSource& source, const PipelineModels& models, ThermalSensor& sensor,
    ThermalGovernor& governor, const PipelineOptions& options,
    const std::function<void(const FrameOutcome&)>& on_frame);

}  // namespace keel::edge
