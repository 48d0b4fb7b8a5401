#include "route/route_journal.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/clock.h"

namespace keel::route {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS route_asks (
  id INTEGER PRIMARY KEY,
  at_unix_ms INTEGER NOT NULL,
  user TEXT NOT NULL, task TEXT NOT NULL, data_class TEXT NOT NULL, question TEXT NOT NULL,
  status TEXT NOT NULL, route TEXT NOT NULL, reason TEXT NOT NULL, rejected TEXT NOT NULL,
  fallback INTEGER NOT NULL, offline INTEGER NOT NULL,
  model_id TEXT NOT NULL, model_sha256 TEXT NOT NULL, keel_version TEXT NOT NULL,
  ms REAL NOT NULL, error TEXT NOT NULL,
  device_sha256 TEXT NOT NULL DEFAULT '', device_version TEXT NOT NULL DEFAULT '', skew TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS route_asks_history ON route_asks(task, route, status, id);
CREATE TABLE IF NOT EXISTS route_consent (
  user TEXT NOT NULL, data_class TEXT NOT NULL, allowed INTEGER NOT NULL, at_unix_ms INTEGER NOT NULL,
  PRIMARY KEY (user, data_class));
)sql";

constexpr std::string_view kColumns =
    "id, at_unix_ms, user, task, data_class, question, status, route, reason, rejected, fallback, offline, "
    "model_id, model_sha256, keel_version, ms, error, device_sha256, device_version, skew";

AskRecord read_row(const Statement& s) {
  AskRecord r;
  r.id = s.column_int(0);
  r.at_unix_ms = s.column_int(1);
  r.user = s.column_text(2);
  r.task = s.column_text(3);
  r.data_class = s.column_text(4);
  r.question = s.column_text(5);
  r.status = s.column_text(6);
  r.route = s.column_text(7);
  r.reason = s.column_text(8);
  auto rejected = parse_json(s.column_text(9));
  r.rejected = rejected.ok() ? *rejected : Json::array();
  r.fallback = s.column_int(10) != 0;
  r.offline = s.column_int(11) != 0;
  r.model_id = s.column_text(12);
  r.model_sha256 = s.column_text(13);
  r.keel_version = s.column_text(14);
  r.ms = s.column_double(15);
  r.error = s.column_text(16);
  r.device_sha256 = s.column_text(17);
  r.device_version = s.column_text(18);
  r.skew = s.column_text(19);
  return r;
}

Result<std::vector<AskRecord>> select(Database& db, const std::string& where_and_order) {
  KEEL_ASSIGN_OR_RETURN(auto st, db.prepare(fmt::format("SELECT {} FROM route_asks {}", kColumns, where_and_order)));
  std::vector<AskRecord> out;
  while (true) {
    KEEL_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(read_row(st));
  }
  return out;
}

}  // namespace

Json AskRecord::to_json() const {
  return {{"id", id},
          {"at_unix_ms", at_unix_ms},
          {"user", user},
          {"task", task},
          {"class", data_class},
          {"status", status},
          {"route", route.empty() ? Json(nullptr) : Json(route)},
          {"reason", reason},
          {"rejected", rejected},
          {"fallback", fallback},
          {"offline", offline},
          {"model", {{"id", model_id}, {"sha256", model_sha256}, {"keel_version", keel_version}}},
          {"ms", ms},
          {"answer", answer.empty() ? Json(nullptr) : Json(answer)},
          {"error", error.empty() ? Json(nullptr) : Json(error)},
          {"parity", route == "cloud" && status == "answered"
                         ? Json{{"device_sha256", device_sha256}, {"device_version", device_version},
                                {"same", skew.empty()}, {"skew", skew.empty() ? Json(nullptr) : Json(skew)}}
                         : Json(nullptr)}};
}

Result<std::unique_ptr<RouteJournal>> RouteJournal::open(const std::string& path) {
  std::unique_ptr<RouteJournal> j(new RouteJournal());
  SqliteOptions options;
  options.synchronous = "FULL";  // an ask is on disk before its answer is shown
  KEEL_ASSIGN_OR_RETURN(j->db_, Database::open(path, options));
  // A queued question is erased when its ask completes: overwritten, not left in free pages.
  KEEL_RETURN_IF_ERROR(j->db_->exec("PRAGMA secure_delete = ON"));
  KEEL_RETURN_IF_ERROR(j->db_->exec(kSchema));
  return j;
}

Status RouteJournal::record(AskRecord* rec) {
  if (rec->at_unix_ms == 0) rec->at_unix_ms = system_clock().unix_now_ns() / 1'000'000;
  KEEL_ASSIGN_OR_RETURN(auto st, db_->prepare(
                                     "INSERT INTO route_asks (at_unix_ms, user, task, data_class, question, status, "
                                     "route, reason, rejected, fallback, offline, model_id, model_sha256, "
                                     "keel_version, ms, error, device_sha256, device_version, skew) "
                                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  st.bind(1, rec->at_unix_ms).bind(2, rec->user).bind(3, rec->task).bind(4, rec->data_class);
  st.bind(5, rec->status == "queued" ? rec->question : std::string()).bind(6, rec->status).bind(7, rec->route).bind(8, rec->reason);
  st.bind(9, dump_json(rec->rejected)).bind(10, int64_t{rec->fallback}).bind(11, int64_t{rec->offline});
  st.bind(12, rec->model_id).bind(13, rec->model_sha256).bind(14, rec->keel_version);
  st.bind(15, rec->ms).bind(16, rec->error);
  st.bind(17, rec->device_sha256).bind(18, rec->device_version).bind(19, rec->skew);
  KEEL_RETURN_IF_ERROR(st.run());
  rec->id = db_->last_insert_id();
  return Status();
}

Status RouteJournal::finish_queued(const AskRecord& rec) {
  KEEL_ASSIGN_OR_RETURN(auto st, db_->prepare(
                                     "UPDATE route_asks SET question = '', status = ?, route = ?, reason = ?, rejected = ?, "
                                     "fallback = ?, offline = offline OR ?, model_id = ?, model_sha256 = ?, keel_version = ?, "
                                     "ms = ?, error = ?, device_sha256 = ?, device_version = ?, skew = ? "
                                     "WHERE id = ? AND status = 'queued'"));
  st.bind(1, rec.status).bind(2, rec.route).bind(3, rec.reason).bind(4, dump_json(rec.rejected));
  st.bind(5, int64_t{rec.fallback}).bind(6, int64_t{rec.offline}).bind(7, rec.model_id);
  st.bind(8, rec.model_sha256).bind(9, rec.keel_version).bind(10, rec.ms).bind(11, rec.error);
  st.bind(12, rec.device_sha256).bind(13, rec.device_version).bind(14, rec.skew).bind(15, rec.id);
  KEEL_RETURN_IF_ERROR(st.run());
  if (db_->changes() != 1) return Status::not_found(fmt::format("no queued ask {}", rec.id));
  // And out of the write-ahead log, which still holds the page with the question.
  return db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Result<std::vector<AskRecord>> RouteJournal::queued() { return select(*db_, "WHERE status = 'queued' ORDER BY id"); }

Result<std::vector<AskRecord>> RouteJournal::recent(int64_t limit) {
  KEEL_ASSIGN_OR_RETURN(auto rows, select(*db_, fmt::format("ORDER BY id DESC LIMIT {}", std::max<int64_t>(0, limit))));
  std::reverse(rows.begin(), rows.end());
  return rows;
}

Result<std::optional<double>> RouteJournal::p50_ms(const std::string& task, const std::string& route, int window) {
  KEEL_ASSIGN_OR_RETURN(auto st, db_->prepare("SELECT ms FROM route_asks WHERE task = ? AND route = ? AND "
                                              "status = 'answered' ORDER BY id DESC LIMIT ?"));
  st.bind(1, task).bind(2, route).bind(3, int64_t{window});
  std::vector<double> ms;
  while (true) {
    KEEL_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    ms.push_back(st.column_double(0));
  }
  if (ms.empty()) return std::optional<double>();
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return std::optional<double>(n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2);
}

Result<RouteCounts> RouteJournal::counts() {
  KEEL_ASSIGN_OR_RETURN(auto rows, select(*db_, "ORDER BY id"));
  RouteCounts c;
  for (const auto& r : rows) {
    ++c.asks;
    if (r.status == "answered") {
      ++c.answered;
      ++c.by_route[r.route];
      c.ms_by_route[r.route].push_back(r.ms);
      if (r.offline) ++c.offline_answered;
      if (r.route == "cloud") {
        ++c.cloud_answers;
        c.skewed += !r.skew.empty();
      }
    } else if (r.status == "refused") {
      ++c.refused;
    } else if (r.status == "failed") {
      ++c.failed;
    } else if (r.status == "queued") {
      ++c.queued;
    }
    c.fallbacks += r.fallback;
    if (r.offline) ++c.offline;
  }
  return c;
}

Status RouteJournal::set_consent(const std::string& user, const std::string& data_class, bool allowed) {
  KEEL_ASSIGN_OR_RETURN(auto st, db_->prepare("INSERT INTO route_consent (user, data_class, allowed, at_unix_ms) "
                                              "VALUES (?,?,?,?) ON CONFLICT (user, data_class) DO UPDATE SET "
                                              "allowed = excluded.allowed, at_unix_ms = excluded.at_unix_ms"));
  st.bind(1, user).bind(2, data_class).bind(3, int64_t{allowed}).bind(4, system_clock().unix_now_ns() / 1'000'000);
  return st.run();
}

Result<std::optional<bool>> RouteJournal::consent(const std::string& user, const std::string& data_class) {
  KEEL_ASSIGN_OR_RETURN(auto st, db_->prepare("SELECT allowed FROM route_consent WHERE user = ? AND data_class = ?"));
  st.bind(1, user).bind(2, data_class);
  KEEL_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<bool>();
  return std::optional<bool>(st.column_int(0) != 0);
}

}  // namespace keel::route
