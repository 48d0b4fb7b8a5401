// A PostgreSQL cluster a command starts for itself in a folder: the embedded default of the
// scenarios that need PostgreSQL (`--pg-data DIR`), so a demo needs no server installed and
// configured by hand, only Debian's postgresql package.
//
// Contract:
// - start() creates the cluster on first use (initdb into DIR/data, trust authentication) and
//   starts it listening on no TCP port at all: only on a Unix socket in DIR, a folder only its
//   owner may enter (0700). As root, the cluster runs as the `postgres` user (PostgreSQL refuses
//   root) and DIR is handed to that user. A cluster already running in DIR is used as it is and
//   left running; one this object started is stopped (fast shutdown, by signal) when it goes.
// - DIR must be a plain path ([A-Za-z0-9_./-]: pg_ctl hands it to a shell). PostgreSQL missing,
//   initdb or the start failing: failed_precondition / unavailable with the server's log tail.
// - The destructor starts no process (it signals the postmaster and waits for its pid file to
//   go), so it still works after the process installed its egress guard.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace keel {

class LocalPostgres {
 public:
  using Progress = std::function<void(std::string_view)>;
  [[nodiscard]] static Result<std::unique_ptr<LocalPostgres>> start(const std::string& dir,
                                                                    const Progress& progress = {});
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  //! True when this start() ran initdb (the cluster is new and empty).
  bool created() const { return created_; }
  //! libpq URI of `database` as `user`, over the cluster's socket.
  std::string uri(const std::string& user = "postgres", const std::string& database = "postgres") const;

 private:
  LocalPostgres() = default;
  std::string dir_;
  bool created_ = false;
  bool started_here_ = false;
};

}  // namespace keel
