#include "edge/program_slots.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/file_io.h"
#include "core/hash.h"

namespace keel::edge {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxStateBytes = 4 << 20;
constexpr uint64_t kMaxProgramFileBytes = 512ull << 20;
constexpr int kMaxInterruptedAttempts = 3;

void maybe_kill(std::string_view step) {
  const char* v = std::getenv("KEEL_EDGE_UPDATE_FAULT");
  if (!v || std::string_view(v) != fmt::format("kill:{}", step)) return;
  std::fprintf(stderr, "keel edge: fault injection: killing the update at %.*s\n",
               static_cast<int>(step.size()), step.data());
  std::fflush(stderr);
  std::raise(SIGKILL);
}

Json record_to_json(const SlotRecord& r) {
  return Json{{"state", r.state},           {"model_id", r.model_id},
              {"version", r.version},       {"program_sha256", r.program_sha256},
              {"update_sha256", r.update_sha256}, {"attempts", r.attempts},
              {"reason", r.reason}};
}

SlotRecord record_from_json(const Json& j) {
  SlotRecord r;
  r.state = j.value("state", "empty");
  r.model_id = j.value("model_id", "");
  r.version = j.value("version", int64_t{0});
  r.program_sha256 = j.value("program_sha256", "");
  r.update_sha256 = j.value("update_sha256", "");
  r.attempts = j.value("attempts", 0);
  r.reason = j.value("reason", "");
  return r;
}

std::string other(const std::string& slot) { return slot == "a" ? "b" : "a"; }

}  // namespace

std::string ProgramSlots::slot_path(const std::string& slot) const {
  return (fs::path(dir_) / fmt::format("slot-{}.kprog", slot)).string();
}

Result<ProgramSlots> ProgramSlots::open(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::internal(fmt::format("cannot create {}: {}", dir, ec.message()));
  ProgramSlots s(dir);
  s.slots_["a"] = {};
  s.slots_["b"] = {};
  KEEL_RETURN_IF_ERROR(s.load_state());
  KEEL_RETURN_IF_ERROR(s.recover());
  return s;
}

Status ProgramSlots::load_state() {
  const std::string path = (fs::path(dir_) / "slots.json").string();
  if (!fs::exists(path)) return Status();
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxStateBytes));
  auto j = parse_json(text);
  if (!j.ok() || !j->is_object())
    return Status::data_loss(fmt::format("{} does not parse (it is only ever replaced whole)", path));
  try {
    active_ = j->value("active", "");
    last_good_ = j->value("last_good", "");
    on_trial_ = j->value("on_trial", false);
    trial_previous_ = j->value("trial_previous", "");
    for (const char* slot : {"a", "b"}) {
      if (j->contains("slots") && (*j)["slots"].contains(slot))
        slots_[slot] = record_from_json((*j)["slots"][slot]);
    }
    rejected_ = j->value("rejected", std::vector<std::string>{});
  } catch (const std::exception& e) {
    return Status::data_loss(fmt::format("{}: {}", path, e.what()));
  }
  for (const std::string* s : {&active_, &last_good_, &trial_previous_}) {
    if (!s->empty() && *s != "a" && *s != "b")
      return Status::data_loss(fmt::format("{}: unknown slot '{}'", path, *s));
  }
  return Status();
}

Status ProgramSlots::save_state() const {
  Json slots = Json::object();
  for (const auto& [name, r] : slots_) slots[name] = record_to_json(r);
  const Json j{{"keel_slots", 1},          {"active", active_},
               {"last_good", last_good_},  {"on_trial", on_trial_},
               {"trial_previous", trial_previous_}, {"slots", slots},
               {"rejected", rejected_}};
  return write_file_atomically((fs::path(dir_) / "slots.json").string(), dump_json(j, 1) + "\n");
}

Status ProgramSlots::record(const std::string& outcome, const Json& details) const {
  Json line = details;
  line["outcome"] = outcome;
  line["at"] = static_cast<int64_t>(std::time(nullptr));
  const std::string text = dump_json(line) + "\n";
  const std::string path = (fs::path(dir_) / "updates.jsonl").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::internal(fmt::format("cannot open {}", path));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status() : Status::internal(fmt::format("cannot append to {}", path));
}

bool ProgramSlots::slot_verifies(const std::string& slot) const {
  const SlotRecord& r = slots_.at(slot);
  auto bytes = read_file(slot_path(slot), kMaxProgramFileBytes);
  return bytes.ok() && sha256_hex(*bytes) == r.program_sha256 &&
         parse_program(*bytes, slot_path(slot)).ok();
}

Status ProgramSlots::recover() {
  std::error_code ec;
  for (const char* slot : {"a", "b"}) fs::remove(slot_path(slot) + ".tmp", ec);
  bool changed = false;
  auto note = [&](const std::string& what) {
    recoveries_.push_back(what);
    changed = true;
  };
  if (on_trial_) {
    SlotRecord& r = slots_[active_];
    ++r.attempts;
    const bool give_up = r.attempts >= kMaxInterruptedAttempts;
    r.state = give_up ? "rejected" : "interrupted";
    r.reason = fmt::format("the process ended during its trial ({} of {} attempts)", r.attempts,
                           kMaxInterruptedAttempts);
    if (give_up) rejected_.push_back(r.update_sha256);
    note(fmt::format("update {} v{} in slot {} was on trial when the process ended: back to {}",
                     r.model_id, r.version, active_,
                     trial_previous_.empty() ? "no program" : "slot " + trial_previous_));
    active_ = trial_previous_;
    on_trial_ = false;
    trial_previous_.clear();
  }
  for (auto& [name, r] : slots_) {
    if (r.state == "staging" || r.state == "staged") {
      note(fmt::format("slot {} held an unfinished install of {} v{}: cleared", name, r.model_id,
                       r.version));
      fs::remove(slot_path(name), ec);
      r = SlotRecord{};
    }
  }
  if (!active_.empty() && !slot_verifies(active_)) {
    const std::string alt = other(active_);
    const std::string was = active_;
    slots_[was].state = "rejected";
    slots_[was].reason = "its file no longer hashes to its record";
    if (slots_[alt].state == "good" && slot_verifies(alt)) {
      active_ = last_good_ = alt;
    } else {
      active_ = last_good_ = "";
    }
    note(fmt::format("slot {} no longer verifies: {}", was,
                     active_.empty() ? "no good program is left" : "back to slot " + active_));
  }
  if (!changed) return Status();
  KEEL_RETURN_IF_ERROR(save_state());
  for (const auto& r : recoveries_) KEEL_RETURN_IF_ERROR(record("recovered", {{"reason", r}}));
  return Status();
}

Status ProgramSlots::write_slot(const std::string& slot, const std::string& bytes) const {
  const char* fault = std::getenv("KEEL_EDGE_UPDATE_FAULT");
  if (fault && std::string_view(fault) == "kill:staging") {
    // What a kill during write_file_atomically leaves: part of the temporary file.
    (void)write_file_atomically(slot_path(slot) + ".tmp", bytes.substr(0, bytes.size() / 2));
    maybe_kill("staging");
  }
  return write_file_atomically(slot_path(slot), bytes);
}

Result<InstallOutcome> ProgramSlots::install(const VerifiedUpdate& verified,
                                             const DeviceIdentity& device, int64_t now,
                                             const HealthCheck& health) {
  const ProgramUpdate& u = verified.update;
  InstallOutcome out;
  out.version = u.terms.version;
  const Json about{{"model_id", u.terms.model_id},
                   {"version", u.terms.version},
                   {"update_sha256", verified.manifest_sha256}};
  auto finish = [&](std::string outcome, std::string reason) -> Result<InstallOutcome> {
    out.outcome = std::move(outcome);
    out.reason = std::move(reason);
    Json details = about;
    details["reason"] = out.reason;
    if (!out.slot.empty()) details["slot"] = out.slot;
    if (out.health) {
      details["health"] = {{"passed", out.health->passed}, {"accuracy", out.health->accuracy},
                           {"p99_ms", out.health->p99_ms}, {"images", out.health->images}};
    }
    KEEL_RETURN_IF_ERROR(record(out.outcome, details));
    return out;
  };

  if (!active_.empty() && slots_[active_].update_sha256 == verified.manifest_sha256)
    return finish("already-installed", fmt::format("slot {} already runs this update", active_));
  if (std::find(rejected_.begin(), rejected_.end(), verified.manifest_sha256) != rejected_.end())
    return finish("refused", "this update was rejected on this device before");
  if (Status s = check_update_applies(u, device, now, installed_version(u.terms.model_id)); !s.ok())
    return finish(s.code() == StatusCode::unavailable ? "not-selected" : "refused",
                  std::string(s.message()));

  const std::string target = active_.empty() ? "a" : other(active_);
  out.slot = target;
  SlotRecord r;
  r.state = "staging";
  r.model_id = u.terms.model_id;
  r.version = u.terms.version;
  r.program_sha256 = u.program_sha256;
  r.update_sha256 = verified.manifest_sha256;
  // The slot may hold the previous good program: it stops being a place to go back to now.
  if (last_good_ == target) last_good_.clear();
  slots_[target] = r;
  KEEL_RETURN_IF_ERROR(save_state());
  KEEL_RETURN_IF_ERROR(write_slot(target, verified.program_bytes));
  if (!slot_verifies(target)) {
    slots_[target] = SlotRecord{};
    KEEL_RETURN_IF_ERROR(save_state());
    return Status::data_loss(fmt::format("{} does not read back as written", slot_path(target)));
  }
  slots_[target].state = "staged";
  KEEL_RETURN_IF_ERROR(save_state());
  maybe_kill("staged");

  trial_previous_ = active_;
  active_ = target;
  on_trial_ = true;
  slots_[target].state = "trial";
  KEEL_RETURN_IF_ERROR(save_state());
  maybe_kill("switched");

  Result<HealthReport> report = health(slot_path(target), u);
  if (!report.ok()) {
    HealthReport failed;
    failed.reason = std::string(report.status().message());
    report = failed;
  }
  out.health = *report;
  maybe_kill("health-checked");

  if (report->passed) {
    slots_[target].state = "good";
    last_good_ = target;
    on_trial_ = false;
    trial_previous_.clear();
    KEEL_RETURN_IF_ERROR(save_state());
    auto done = finish("installed", report->reason);
    maybe_kill("committed");
    return done;
  }
  slots_[target].state = "rejected";
  slots_[target].reason = report->reason;
  rejected_.push_back(verified.manifest_sha256);
  active_ = trial_previous_;
  on_trial_ = false;
  trial_previous_.clear();
  KEEL_RETURN_IF_ERROR(save_state());
  auto done = finish("rolled-back", report->reason);
  maybe_kill("rolled-back");
  return done;
}

Status ProgramSlots::record_refused(const std::string& what, const std::string& reason) const {
  return record("refused", {{"update", what}, {"reason", reason}});
}

Status ProgramSlots::roll_back(const std::string& reason) {
  const std::string alt = active_.empty() ? "" : other(active_);
  if (alt.empty() || slots_[alt].state != "good" || !slot_verifies(alt))
    return Status::failed_precondition("there is no other good program to go back to");
  const std::string was = active_;
  active_ = last_good_ = alt;
  KEEL_RETURN_IF_ERROR(save_state());
  return record("rolled-back", {{"reason", reason}, {"from_slot", was}, {"slot", alt},
                                {"version", slots_[alt].version}});
}

std::optional<std::string> ProgramSlots::active_program_path() const {
  if (active_.empty()) return std::nullopt;
  return slot_path(active_);
}

int64_t ProgramSlots::installed_version(const std::string& model_id) const {
  int64_t v = 0;
  for (const auto& [name, r] : slots_) {
    if (r.model_id == model_id && (r.state == "good" || name == last_good_)) v = std::max(v, r.version);
  }
  return v;
}

Result<std::map<std::string, int64_t>> ProgramSlots::outcome_counts() const {
  std::map<std::string, int64_t> counts;
  const std::string path = (fs::path(dir_) / "updates.jsonl").string();
  if (!fs::exists(path)) return counts;
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxStateBytes * 16));
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto j = parse_json(line);
    if (j.ok() && j->is_object()) ++counts[j->value("outcome", "unknown")];
  }
  return counts;
}

Json ProgramSlots::status_json() const {
  Json slots = Json::object();
  for (const auto& [name, r] : slots_) slots[name] = record_to_json(r);
  return Json{{"active", active_.empty() ? Json() : Json(active_)},
              {"last_good", last_good_.empty() ? Json() : Json(last_good_)},
              {"on_trial", on_trial_},
              {"slots", slots},
              {"rejected_updates", rejected_.size()}};
}

}  // namespace keel::edge
