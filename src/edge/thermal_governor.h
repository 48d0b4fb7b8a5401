// The thermal budget of an on-device pipeline (scenario mobile-vision): a governor reads the
// device's temperature and CPU frequency and holds a sustained budget by lowering the frame
// rate first, then switching to the smaller model, then both; it steps back one level at a time
// once the device has cooled by a margin below the level's threshold. Every change is a
// decision with its reason.
//
// Contract:
// - SysfsThermalSensor reads the hottest /sys/class/thermal/thermal_zone*/temp (millidegrees)
//   and the mean /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq under `root`; a reading
//   with no zone is invalid (the governor then keeps its level and says so once).
// - ScriptedThermalSensor returns its temperatures in order, repeating the last (tests and
//   failure injection: `keel run --thermal-script`).
// - ThermalGovernor::update(): level 0 below `throttle_celsius`, 1 (frame rate halved) from it,
//   2 (smaller model, rate halved) from the midpoint to `critical_celsius`, 3 (smaller model, a
//   quarter of the rate) from critical. Up at once; down one level when the reading is
//   `resume_margin` below the current level's threshold. Level 2 and 3 without a smaller model
//   keep the main model at a quarter of the rate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace keel::edge {

struct ThermalReading {
  bool valid = false;
  double celsius = 0;
  double cpu_mhz = 0;  //!< 0 when unknown
};

class ThermalSensor {
 public:
  virtual ~ThermalSensor() = default;
  virtual ThermalReading read() = 0;
  virtual std::string describe() const = 0;
};

class SysfsThermalSensor : public ThermalSensor {
 public:
  explicit SysfsThermalSensor(std::string root = "/sys") : root_(std::move(root)) {}
  ThermalReading read() override;
  std::string describe() const override { return root_ + "/class/thermal"; }

 private:
  std::string root_;
};

class ScriptedThermalSensor : public ThermalSensor {
 public:
  explicit ScriptedThermalSensor(std::vector<double> celsius) : celsius_(std::move(celsius)) {}
  ThermalReading read() override;
  std::string describe() const override { return "scripted temperatures"; }

 private:
  std::vector<double> celsius_;
  size_t next_ = 0;
};

struct ThermalBudget {
  double throttle_celsius = 45;
  double critical_celsius = 55;
  double resume_margin = 3;
};

struct ThermalDecision {
  int level = 0;              //!< 0..3
  double rate_factor = 1;     //!< share of the full frame rate
  bool small_model = false;
  bool changed = false;
  std::string reason;
};

class ThermalGovernor {
 public:
  ThermalGovernor(ThermalBudget budget, bool has_small_model)
      : budget_(budget), has_small_(has_small_model) {}
  ThermalDecision update(const ThermalReading& reading);
  int level() const { return level_; }

 private:
  double threshold(int level) const;
  ThermalDecision decision(bool changed, std::string reason) const;
  ThermalBudget budget_;
  bool has_small_;
  int level_ = 0;
  bool warned_invalid_ = false;
};

}  // namespace keel::edge
