// `keel bench`: prompt processing and generation speed of a model, and the machine's memory
// bandwidth measured in the same run, so generation can be reported as a fraction of the
// bandwidth bound (bandwidth / bytes of weights read per token).
//
// Contract: every figure is a median over `reps` repetitions (spread reported as min/max);
// progress goes to the callback; a warm-up pass runs first and is not counted.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/model.h"

namespace keel::engine {

struct Spread {
  double median = 0, min = 0, max = 0;
  std::vector<double> samples;
};
Spread summarize(std::vector<double> samples);

//! Reads a buffer of `bytes` with `threads` threads through the kernel table's read_sum_f32.
//! The buffer is allocated and touched (by the threads that read it) once, so the probe can be
//! repeated between other measurements and follow a machine whose bandwidth drifts.
class BandwidthProbe {
 public:
  explicit BandwidthProbe(int threads, size_t bytes = size_t{1} << 30);
  //! GB/s of reading the whole buffer, median of `passes` reads.
  double measure(int passes = 3);
  int threads() const { return threads_; }

 private:
  int threads_;
  std::vector<float> data_;
  double sink_ = 0;
};

//! GB/s reading a buffer of `bytes` with `threads` threads, `reps` readings of one probe.
Spread measure_memory_bandwidth(int threads, size_t bytes = size_t{1} << 30, int reps = 3);

struct BenchOptions {
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
  int threads = 0;
  int reps = 3;
  int64_t batch = 512;
  bool measure_bandwidth = true;
};

struct BenchResult {
  std::string model_path;
  std::string model_type;        //!< dominant matrix type
  uint64_t bytes_per_token = 0;  //!< weight bytes read to generate one token
  int threads = 0;
  //! Bandwidth is measured around every generation repetition (before and after, averaged);
  //! the fraction of the bound is computed per repetition against that reading, then the
  //! median taken, so a machine whose bandwidth drifts during the run does not skew it.
  Spread pp_tokens_per_s, tg_tokens_per_s, bandwidth_gb_per_s, tg_fraction_of_bound_per_rep;
  double tg_bound_tokens_per_s = 0;  //!< median bandwidth / bytes per token
  double tg_fraction_of_bound = 0;   //!< median of the per-repetition fractions
  std::string kernels;
};

[[nodiscard]] Result<BenchResult> run_benchmark(const std::string& model_path,
                                                const BenchOptions& options,
                                                const std::function<void(const std::string&)>& progress = {});

}  // namespace keel::engine
