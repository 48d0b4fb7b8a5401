#include "agent/journal.h"

#include <chrono>

#include "agent/postgres_journal.h"
#include "agent/sqlite_journal.h"

namespace keel::agent {

std::string_view case_state_name(CaseState s) {
  switch (s) {
    case CaseState::running: return "running";
    case CaseState::waiting_approval: return "waiting_approval";
    case CaseState::completed: return "completed";
    case CaseState::failed: return "failed";
  }
  return "?";
}

std::optional<CaseState> case_state_from_name(std::string_view name) {
  for (CaseState s : {CaseState::running, CaseState::waiting_approval, CaseState::completed, CaseState::failed}) {
    if (case_state_name(s) == name) return s;
  }
  return std::nullopt;
}

int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<std::unique_ptr<JournalStore>> open_journal(const std::string& location,
                                                   const Clock& clock) {
  if (location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0) {
    return open_postgres_journal(location, clock);
  }
  if (location.rfind("postgresql:", 0) == 0)
    return open_postgres_journal(location.substr(11), clock);
  return open_sqlite_journal(location, clock);
}

}  // namespace keel::agent
