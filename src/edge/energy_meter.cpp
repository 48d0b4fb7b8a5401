#include "edge/energy_meter.h"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <optional>

namespace keel::edge {
namespace {

std::optional<double> read_number(const std::string& path) {
  std::ifstream in(path);
  double v = 0;
  if (in >> v) return v;
  return std::nullopt;
}

}  // namespace

EnergyMeter::EnergyMeter(std::string root, double watts_per_core) : watts_per_core_(watts_per_core) {
  const std::string zone = root + "/intel-rapl:0";
  auto now = read_number(zone + "/energy_uj");
  auto range = read_number(zone + "/max_energy_range_uj");
  if (now && range && *range > 0) {
    rapl_path_ = zone + "/energy_uj";
    rapl_start_uj_ = *now;
    rapl_range_uj_ = *range;
    source_ = "rapl";
  } else {
    source_ = "estimate-cpu-time";
  }
  cpu_start_s_ = cpu_seconds();
}

double EnergyMeter::cpu_seconds() const {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double EnergyMeter::joules() const {
  if (!rapl_path_.empty()) {
    if (auto now = read_number(rapl_path_)) {
      double delta = *now - rapl_start_uj_;
      if (delta < 0) delta += rapl_range_uj_;  // the counter wrapped
      return delta * 1e-6;
    }
  }
  return std::max(0.0, cpu_seconds() - cpu_start_s_) * watts_per_core_;
}

}  // namespace keel::edge
