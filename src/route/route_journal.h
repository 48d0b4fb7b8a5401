// The field device's record of its routed tasks (hybrid-field: `keel field ask`): every ask
// with its route decision and reason, the model (content hash) and Keel version that answered,
// its latency; the user's consent per data class; and the measured latency history the route
// policy predicts from. Kept in the device's SQLite store file, beside its records.
//
// Contract:
// - record() is durable before it returns; a row is never rewritten except to finish a queued
//   ask (finish_queued), so the journal is the audit of which route read which class.
// - p50_ms() is the median of the last `window` answered asks of a task type on a route (a route
//   that failed or was refused adds nothing); nullopt before the first.
// - consent() is the user's last recorded choice for a class; nullopt when never asked.
// - Raw inputs are not kept: a row holds its question only while it is queued (to ask it
//   again), and never the answer's text; the decision, route, model and timing stay. A
//   completed queued question is overwritten (secure_delete) and checkpointed out of the WAL.
// - A store file that is not a database, or is damaged, is data_loss naming the path.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "core/sqlite_db.h"

namespace keel::route {

struct AskRecord {
  int64_t id = 0;
  int64_t at_unix_ms = 0;
  std::string user, task, data_class;
  std::string question;  //!< stored only while queued (raw inputs are not kept)
  std::string status;  //!< answered | refused | failed | queued
  std::string route;   //!< local | cloud; "" when refused or queued
  std::string reason;  //!< the route policy's reason (and a fallback's cause)
  Json rejected = Json::array();  //!< why each other route was not taken
  bool fallback = false;          //!< the first route chosen failed and another permitted one answered
  bool offline = false;           //!< the probe found the private cloud unreachable
  std::string model_id, model_sha256, keel_version;
  double ms = 0;
  std::string answer;  //!< shown to the caller; not stored
  std::string error;
  //! For a cloud answer: the device's own model file's hash and version, to compare (parity).
  std::string device_sha256, device_version;
  //! "" when the cloud answered with the device's model file and Keel version (or locally);
  //! otherwise what differs.
  std::string skew;
  Json to_json() const;
};

struct RouteCounts {
  int64_t asks = 0, answered = 0, refused = 0, failed = 0, queued = 0, fallbacks = 0;
  int64_t offline = 0, offline_answered = 0;
  int64_t cloud_answers = 0, skewed = 0;  //!< cloud answers, and those whose model or version differed
  std::map<std::string, int64_t> by_route;   //!< answered, per route
  std::map<std::string, std::vector<double>> ms_by_route;  //!< answered latencies
};

class RouteJournal {
 public:
  [[nodiscard]] static Result<std::unique_ptr<RouteJournal>> open(const std::string& path);

  //! Stores the ask; fills rec->id.
  [[nodiscard]] Status record(AskRecord* rec);
  //! Completes a queued ask with its later outcome (same id).
  [[nodiscard]] Status finish_queued(const AskRecord& rec);
  [[nodiscard]] Result<std::vector<AskRecord>> queued();
  [[nodiscard]] Result<std::vector<AskRecord>> recent(int64_t limit);
  [[nodiscard]] Result<std::optional<double>> p50_ms(const std::string& task, const std::string& route,
                                                     int window = 20);
  [[nodiscard]] Result<RouteCounts> counts();

  [[nodiscard]] Status set_consent(const std::string& user, const std::string& data_class, bool allowed);
  [[nodiscard]] Result<std::optional<bool>> consent(const std::string& user, const std::string& data_class);

 private:
  RouteJournal() = default;
  std::unique_ptr<Database> db_;
};

}  // namespace keel::route
