// `keel run SPEC --video FILE` for the mobile-vision scenario: the spec's model prepared for the
// device within the spec's bounds (or its smaller fallback), or the device's active updated
// program (--slots), run over a video at the spec's frame rate under the thermal budget, with
// the results and the plan's metrics. The process opens no socket: the egress guard's
// no_sockets profile is installed before any model or frame is read.
#pragma once

#include <string>

#include "contract/spec.h"

namespace keel::app {

struct VisionRunOptions {
  std::string spec_path;
  std::string video;           //!< .y4m, or "-" for standard input
  std::string device;          //!< device profile; empty: this CPU only
  std::string slots;           //!< a slots folder whose active program replaces the spec's model
  std::string thermal_script;  //!< a file of temperatures, one per frame (replaces the sensor)
  std::string labels;          //!< the video's true labels ({"labels": [one per frame]})
  std::string results;         //!< JSON lines, one per frame
  std::string metrics;         //!< Prometheus text
  std::string keep_frames;     //!< only with raw_input_retention: durable
  double fps = -1;             //!< -1: the spec's slo.workload.rps; 0: unpaced
  int64_t max_frames = 0;
  bool delegate_failure = false;  //!< fault injection: the device's delegates fail to prepare
  bool json = false;
};

//! Exit codes: 0 ran; 1 bad input; 2 refused by the spec (keeping frames it forbids).
int run_mobile_vision(const contract::Spec& spec, const VisionRunOptions& options);

}  // namespace keel::app
