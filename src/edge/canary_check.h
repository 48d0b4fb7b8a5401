// The health check a device runs on an update's program before it commits it (program_slots.h):
// the device's own canary set (labelled images it ships with), classified a few times.
//
// Contract: the check loads the program from its slot (verifying it), refuses one that is not
// an image classifier for the canary set's labels (an error: the update is rolled back), and
// passes when the accuracy on the set reaches the update's health.min_accuracy and the p99
// latency is within both the update's health.max_p99_ms and the device's own bound (0: none);
// the report says which failed, with the numbers.
#pragma once

#include "edge/image_set.h"
#include "edge/program_slots.h"

namespace keel::edge {

struct CanaryBounds {
  double device_max_p99_ms = 0;  //!< the spec's slo.latency_ms.p99; 0: none
  int passes = 3;                //!< runs over the set (latency samples)
};

HealthCheck canary_health_check(ImageSet canary, CanaryBounds bounds);

}  // namespace keel::edge
