#include "route/route_policy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace keel::route {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}

// Why this option cannot take the task; "" when it can.
std::string unfit(const RouteInputs& in, const RouteOption& o) {
  const std::string name = std::string(route_name(o.route));
  if (!o.classes.empty() && !contains(o.classes, in.task.data_class))
    return fmt::format("{} ({}) is not approved for {} data", name, o.model_id, in.task.data_class);
  std::vector<std::string> missing;
  for (const auto& need : in.task.needs)
    if (!contains(o.capabilities, need)) missing.push_back(need);
  if (!missing.empty())
    return fmt::format("{} ({}) lacks {}", name, o.model_id, fmt::join(missing, ", "));
  if (o.route == Route::cloud) {
    if (!in.link.up) return fmt::format("cloud is unreachable ({})", in.link.detail.empty() ? "no link" : in.link.detail);
    if (in.consent_needed && !in.consent_given)
      return fmt::format("cloud needs the user's consent for {} data, which is not given", in.task.data_class);
  }
  return "";
}

// A measured p50 is end to end (for the cloud: the network included); an estimate is the
// model's own time, so the cloud's adds the link's current round trip.
double predicted(const RouteInputs& in, const RouteOption& o) {
  if (o.measured_p50_ms) return *o.measured_p50_ms;
  return o.route == Route::cloud ? o.estimate_ms + in.link.rtt_ms : o.estimate_ms;
}

}  // namespace

std::string_view route_name(Route r) { return r == Route::local ? "local" : "cloud"; }

Json RouteDecision::to_json() const {
  return {{"route", route ? Json(std::string(route_name(*route))) : Json(nullptr)},
          {"model", model_id.empty() ? Json(nullptr) : Json(model_id)},
          {"predicted_ms", predicted_ms},
          {"misses_deadline", misses_deadline},
          {"reason", reason},
          {"rejected", rejected}};
}

RouteDecision decide(const RouteInputs& in) {
  RouteDecision d;
  struct Fit {
    const RouteOption* option;
    double ms;
  };
  std::vector<Fit> fits;
  for (const auto& o : in.options) {
    std::string why = unfit(in, o);
    if (why.empty()) {
      fits.push_back({&o, predicted(in, o)});
    } else {
      d.rejected.push_back(std::move(why));
    }
  }
  if (fits.empty()) {
    d.reason = fmt::format("refused: no permitted route can take this {} {} task now (fail closed)", in.task.data_class,
                           in.task.type);
    return d;
  }
  const bool has_deadline = in.task.deadline_ms > 0;
  auto meets = [&](const Fit& f) { return !has_deadline || f.ms <= in.task.deadline_ms; };
  // Within the deadline: local first (nothing leaves the device), then the faster; otherwise the fastest.
  std::stable_sort(fits.begin(), fits.end(), [&](const Fit& a, const Fit& b) {
    if (meets(a) != meets(b)) return meets(a);
    if (meets(a) && a.option->route != b.option->route) return a.option->route == Route::local;
    return a.ms < b.ms;
  });
  const Fit& chosen = fits.front();
  d.route = chosen.option->route;
  d.model_id = chosen.option->model_id;
  d.predicted_ms = chosen.ms;
  d.misses_deadline = !meets(chosen);
  const std::string basis = chosen.option->measured_p50_ms ? "measured" : "estimated";
  if (d.misses_deadline) {
    d.reason = fmt::format("{}: the fastest permitted route ({} {:.0f} ms), though over the {:.0f} ms deadline",
                           route_name(*d.route), basis, chosen.ms, in.task.deadline_ms);
  } else if (has_deadline) {
    d.reason = fmt::format("{}: permitted for {} data and within the {:.0f} ms deadline ({} {:.0f} ms)",
                           route_name(*d.route), in.task.data_class, in.task.deadline_ms, basis, chosen.ms);
  } else {
    d.reason = fmt::format("{}: permitted for {} data ({} {:.0f} ms)", route_name(*d.route), in.task.data_class, basis,
                           chosen.ms);
  }
  for (size_t i = 1; i < fits.size(); ++i)
    d.rejected.push_back(fmt::format("{} was permitted but predicted {:.0f} ms", route_name(fits[i].option->route),
                                     fits[i].ms));
  return d;
}

}  // namespace keel::route
