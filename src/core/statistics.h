// Summary statistics every report prints (latency percentiles of evaluations, benchmarks and
// load generators), defined once so that two reports' p95 mean the same thing.
//
// Contract: percentile(v, q) for q in [0, 1] is the element at index round(q * (n - 1)) of the
// sorted values (q = 0.5 is the median of an odd count, q = 1 the maximum); 0 for no values.
#pragma once

#include <vector>

namespace keel {

double percentile(std::vector<double> values, double q);

}  // namespace keel
