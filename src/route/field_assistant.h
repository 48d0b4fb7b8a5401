// One field ask, end to end: measure the link, read the user's consent and the latency
// history, let the route policy decide (route_policy.h), answer on that route, fall back to
// another permitted route if it fails, and journal the decision, its reason and which model and
// version answered (route_journal.h).
//
// Contract:
// - The link is probed on every ask that could use the cloud (a measurement, never assumed).
// - The device's model is loaded on its first use, after the engine's memory-fit estimate is
//   checked against local_max_ram_mb and available memory; a model that does not fit is never
//   loaded (that route fails with the numbers, and the ask is decided again without it).
// - Only routes the policy permits are ever tried. When the chosen route fails mid-answer, the
//   ask is decided again with that route marked down; what that decision permits is tried
//   (`fallback` when it answers). With no other permitted route the ask is `failed`, with the
//   error: its question reached the failed route (the outcome unknown), so it is not queued.
// - A refused ask is recorded with every route's reason and is `refused` (fail closed), or
//   `queued` when the caller asked to queue it; retry_queued() asks each queued one again and
//   completes its row. Nothing a refused ask carried reaches any route.
// - A cloud answer is compared with the device: the model file's hash and Keel version it
//   reports against the device's own; any difference is the record's `skew` (never silent).
// - `force` narrows the policy's choice to one route (parity checks); the policy still decides
//   whether that route is permitted.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "route/chat_routes.h"
#include "route/route_journal.h"
#include "route/route_policy.h"

namespace keel::route {

struct FieldRoutingConfig {
  std::vector<TaskProfile> tasks;
  std::optional<RouteOption> local;  //!< the device's model, when it has one
  std::string local_model_path;
  std::optional<int64_t> local_max_ram_mb;  //!< the spec's bound: checked before the model loads
  std::optional<RouteOption> cloud;  //!< the private cloud's model, when egress reaches it
  CloudEndpoint endpoint;            //!< its address and the device's key
  bool consent_for_every_class = false;
  std::vector<std::string> consent_classes;  //!< classes the cloud reads only with consent
  int64_t n_ctx = 2048;
  int threads = 0;
};

struct AskInput {
  std::string user = "technician";
  std::string task;
  std::string question;
  int64_t max_tokens = 64;
  std::optional<Route> force;
  bool queue_if_refused = false;
};

class FieldAssistant {
 public:
  //! The journal lives in `store_path` (the device's store file).
  [[nodiscard]] static Result<std::unique_ptr<FieldAssistant>> open(FieldRoutingConfig config,
                                                                   const std::string& store_path);
  ~FieldAssistant();

  //! An unknown task type is invalid_argument (nothing recorded); otherwise the record says
  //! what happened (answered, refused, queued, failed) and is in the journal.
  [[nodiscard]] Result<AskRecord> ask(const AskInput& in);
  [[nodiscard]] Result<std::vector<AskRecord>> retry_queued(int64_t max_tokens);

  RouteJournal& journal() { return *journal_; }
  //! The cloud request's deadline from now on.
  void set_cloud_timeout_ms(int64_t ms) { config_.endpoint.timeout_ms = ms; }

 private:
  FieldAssistant() = default;
  [[nodiscard]] Result<AskRecord> run(const AskInput& in, AskRecord rec);
  [[nodiscard]] Result<RouteAnswer> answer_on(Route r, const AskInput& in);

  FieldRoutingConfig config_;
  std::unique_ptr<RouteJournal> journal_;
  void compare_with_device(AskRecord* rec);  // a device file it cannot read is a skew, not an error

  std::unique_ptr<LocalChat> local_;  // loaded on its first use
  std::string local_sha256_;          // hashed on the first cloud answer (parity)
};

}  // namespace keel::route
