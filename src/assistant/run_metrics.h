// The metrics of one local-research run in the Prometheus text format: what the plan's metrics
// section names for the scenario (latencies, load time, peak memory, citations, index state,
// outbound bytes) plus the answer's outcome, each taken from what the run measured.
//
// Contract: pure; a figure the run could not measure is left out rather than written as zero
// (outbound bytes without a private network namespace, token latencies when nothing was
// generated shows as an empty histogram).
#pragma once

#include <string>

#include "assistant/local_research_run.h"

namespace keel::assistant {

std::string render_run_metrics(const LocalResearchRun& run);

}  // namespace keel::assistant
