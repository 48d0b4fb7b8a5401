// The journal in PostgreSQL, for several workers on several machines. Workers claim runnable
// cases with `FOR UPDATE SKIP LOCKED` (no two workers get the same case, none waits on
// another's lock); a lease that expires (its worker died) lets another worker resume the case.
// Appends are serializable per case through the (case_id, seq) primary key.
//
// A lost connection is `unavailable`; the store reconnects on the next call, so a worker rides
// out a database restart by pausing and retrying.
#pragma once

#include <memory>
#include <string>

#include "agent/journal.h"

namespace keel::agent {

//! `conninfo` is a libpq connection string or URI. `clock` times leases and records (see
//! open_journal); it must outlive the store.
[[nodiscard]] Result<std::unique_ptr<JournalStore>> open_postgres_journal(
    const std::string& conninfo, const Clock& clock = system_clock());

}  // namespace keel::agent
