// Where a field task runs: on the device's model or the private cloud's, decided from the
// task's data class, the capability it needs, its deadline, the link as measured, and the
// user's consent, with the reason recorded. A class no available route may take fails closed.
//
// Contract:
// - decide() is a pure function of its inputs (no clock, no I/O): the same inputs, the same
//   decision and the same reasons.
// - A route is a candidate only if its model is approved for the task's class and has every
//   capability the task needs. The cloud route also needs a link measured up (a probe answered
//   within its deadline) and, where the class needs consent, the user's recorded consent.
// - Among candidates predicted to finish within the deadline (or all, without one), local is
//   chosen first: nothing leaves the device; then the faster. Predicted = the route's measured
//   p50 for this task type (end to end: the cloud's includes the network), or, before any
//   measurement, the route's declared estimate (the cloud's plus the link's current round
//   trip). When no candidate meets the deadline, the
//   fastest is chosen and the decision says the deadline will be missed.
// - No candidate: `refused` with one reason per route (why each was not a candidate); never a
//   route the policy does not allow (fail closed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"

namespace keel::route {

enum class Route { local, cloud };
std::string_view route_name(Route r);

struct TaskProfile {
  std::string type;                 //!< e.g. "diagnose"
  std::string data_class;           //!< e.g. "confidential"
  std::vector<std::string> needs;   //!< capabilities, e.g. ["generate", "long-context"]
  double deadline_ms = 0;           //!< 0: none
};

struct RouteOption {
  Route route = Route::local;
  std::string model_id;
  std::vector<std::string> classes;       //!< approved data classes (empty: every class)
  std::vector<std::string> capabilities;  //!< what the model can do
  std::optional<double> measured_p50_ms;  //!< this route's history for the task type
  double estimate_ms = 0;                 //!< before any history
};

struct LinkState {
  bool up = false;          //!< the probe answered within its deadline
  double rtt_ms = 0;        //!< the probe's round trip
  std::string detail;       //!< why it is down ("timed out after 800 ms", "connection refused")
};

struct RouteInputs {
  TaskProfile task;
  std::vector<RouteOption> options;  //!< at most one per route
  LinkState link;
  bool consent_needed = false;  //!< the task's class needs the user's consent for the cloud
  bool consent_given = false;
};

struct RouteDecision {
  std::optional<Route> route;  //!< nullopt: refused (fail closed)
  std::string model_id;
  double predicted_ms = 0;
  bool misses_deadline = false;
  std::string reason;                //!< one sentence: why this route (or why none)
  std::vector<std::string> rejected; //!< why each other route was not taken
  Json to_json() const;
};

[[nodiscard]] RouteDecision decide(const RouteInputs& in);

}  // namespace keel::route
