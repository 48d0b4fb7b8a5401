// The journal in a SQLite file (WAL, synchronous=FULL: an acknowledged append survives a
// power cut). The embedded default: no server to run. Leases work across processes on one
// machine (SQLite's write lock serializes claims).
#pragma once

#include <memory>
#include <string>

#include "agent/journal.h"

namespace keel::agent {

//! `clock` times leases and records (see open_journal); it must outlive the store.
[[nodiscard]] Result<std::unique_ptr<JournalStore>> open_sqlite_journal(
    const std::string& path, const Clock& clock = system_clock());

}  // namespace keel::agent
