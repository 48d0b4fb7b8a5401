#include "edge/thermal_governor.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace keel::edge {
namespace {

std::optional<double> read_number(const std::filesystem::path& p) {
  std::ifstream in(p);
  double v = 0;
  if (in >> v) return v;
  return std::nullopt;
}

const char* kLevelNames[] = {"full rate, main model", "half rate", "smaller model, half rate",
                             "smaller model, quarter rate"};

}  // namespace

ThermalReading SysfsThermalSensor::read() {
  namespace fs = std::filesystem;
  ThermalReading r;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "class/thermal", ec)) {
    if (e.path().filename().string().rfind("thermal_zone", 0) != 0) continue;
    if (auto t = read_number(e.path() / "temp")) {
      const double c = *t / 1000.0;
      r.celsius = r.valid ? std::max(r.celsius, c) : c;
      r.valid = true;
    }
  }
  double sum = 0;
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "devices/system/cpu", ec)) {
    if (auto f = read_number(e.path() / "cpufreq/scaling_cur_freq")) {
      sum += *f / 1000.0;  // kHz -> MHz
      ++n;
    }
  }
  if (n > 0) r.cpu_mhz = sum / n;
  return r;
}

ThermalReading ScriptedThermalSensor::read() {
  ThermalReading r;
  if (celsius_.empty()) return r;
  r.valid = true;
  r.celsius = celsius_[std::min(next_, celsius_.size() - 1)];
  ++next_;
  return r;
}

double ThermalGovernor::threshold(int level) const {
  switch (level) {
    case 1: return budget_.throttle_celsius;
    case 2: return (budget_.throttle_celsius + budget_.critical_celsius) / 2;
    case 3: return budget_.critical_celsius;
    default: return -1e9;
  }
}

ThermalDecision ThermalGovernor::decision(bool changed, std::string reason) const {
  ThermalDecision d;
  d.level = level_;
  d.changed = changed;
  d.reason = std::move(reason);
  d.small_model = has_small_ && level_ >= 2;
  d.rate_factor = level_ == 0 ? 1.0 : level_ == 1 ? 0.5 : (d.small_model && level_ == 2 ? 0.5 : 0.25);
  return d;
}

ThermalDecision ThermalGovernor::update(const ThermalReading& r) {
  if (!r.valid) {
    const bool first = !warned_invalid_;
    warned_invalid_ = true;
    return decision(false, first ? "no temperature reading: the level is kept" : "");
  }
  int target = 0;
  for (int l = 3; l >= 1; --l) {
    if (r.celsius >= threshold(l)) {
      target = l;
      break;
    }
  }
  if (target > level_) {
    const int from = level_;
    level_ = target;
    return decision(true, fmt::format("{:.1f} °C reached the level {} threshold {:.1f} °C: {} -> {}",
                                      r.celsius, level_, threshold(level_), kLevelNames[from],
                                      kLevelNames[level_]));
  }
  if (level_ > 0 && r.celsius < threshold(level_) - budget_.resume_margin) {
    const int from = level_;
    --level_;
    return decision(true, fmt::format("{:.1f} °C is {:.1f} °C below the level {} threshold: {} -> {}",
                                      r.celsius, threshold(from) - r.celsius, from,
                                      kLevelNames[from], kLevelNames[level_]));
  }
  return decision(false, "");
}

}  // namespace keel::edge
