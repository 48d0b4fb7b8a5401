// Energy used by a pipeline (scenario mobile-vision): Intel RAPL's package counter
// (/sys/class/powercap/intel-rapl:0/energy_uj, wrap-around handled) where it is readable, and
// otherwise an estimate from the process's CPU time at a stated power per busy core, labelled
// as an estimate wherever it is shown.
//
// Contract: joules() is the energy since construction (never negative); source() is "rapl" or
// "estimate-cpu-time"; the estimate uses `watts_per_core` (default 2.0 W, a mobile big core at
// full load).
#pragma once

#include <cstdint>
#include <string>

namespace keel::edge {

class EnergyMeter {
 public:
  explicit EnergyMeter(std::string powercap_root = "/sys/class/powercap", double watts_per_core = 2.0);
  double joules() const;
  const std::string& source() const { return source_; }

 private:
  double cpu_seconds() const;
  std::string rapl_path_;
  double rapl_range_uj_ = 0;
  double rapl_start_uj_ = 0;
  double cpu_start_s_ = 0;
  double watts_per_core_;
  std::string source_;
};

}  // namespace keel::edge
