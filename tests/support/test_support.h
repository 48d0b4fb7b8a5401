// Helpers shared by Keel's tests: paths of the source and build trees, temporary folders,
// running the real `keel` binary (or any program) and capturing what it prints.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace keel::testing {

std::string source_dir();  //!< the repository root
std::string binary_dir();  //!< the CMake build folder
std::string keel_binary(); //!< <build>/keel

//! ../shared/fixtures next to the repository (or $KEEL_FIXTURES); nullopt when absent.
std::optional<std::string> fixtures_dir();

//! True when the environment says this is a CI run (CI=true or CI=1, as .ci/run sets it).
bool running_in_ci();

//! For a test whose fixture, peer or privilege is missing: under CI a failure (a green run must
//! not hide a test that never ran), elsewhere a skip that says why. Use inside a TEST body.
#define KEEL_SKIP_OUTSIDE_CI(why)                                                          \
  do {                                                                                     \
    const std::string keel_skip_reason_ = (why);                                           \
    if (::keel::testing::running_in_ci()) {                                                \
      GTEST_FAIL() << "cannot run under CI (CI=true makes this a failure): " << keel_skip_reason_; \
    }                                                                                      \
    GTEST_SKIP() << keel_skip_reason_;                                                     \
  } while (0)

//! Runs `body` (returning an exit code) in a forked child and waits: its exit code, or 100 plus
//! the signal that ended it. For what changes a process for good (a seccomp filter, a network
//! namespace, an egress policy that only tightens).
template <typename F>
int in_child(F body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

struct CommandResult {
  int exit_code = -1;  //!< 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

//! Runs argv[0] (searched in PATH) with the given stdin; waits; captures stdout and stderr.
//! `env` entries are added to (or replace in) the environment.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data = "",
                          const std::map<std::string, std::string>& env = {},
                          int timeout_seconds = 300);

//! `keel <args...>`.
CommandResult run_keel(const std::vector<std::string>& args, const std::string& stdin_data = "");

//! A fresh folder under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

//! True when `program` is found in PATH.
//! A throwaway PostgreSQL cluster for one test: initdb into a temporary folder and pg_ctl
//! start listening only on a unix socket in that folder (as the `postgres` user when the
//! test runs as root, since PostgreSQL refuses to run as root). Stopped and removed at the end.
class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  //! False when PostgreSQL could not be set up; error() says why.
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  //! libpq URI of the `postgres` database, as `user` (the owner by default).
  std::string uri(const std::string& user = "postgres") const;
  //! The first value of a query's result, as `user`; "ERROR: ..." when it fails or is empty.
  std::string scalar(const std::string& sql, const std::string& user = "postgres") const;
  bool stop();
  bool start();

 private:
  CommandResult pg(const std::vector<std::string>& argv);
  std::string bin_dir_, dir_;
  bool ok_ = false;
  std::string error_;
};

bool have_program(const std::string& program);

//! A program running in the background (a server under test); stderr and stdout are collected.
//! Destroying it sends SIGKILL (if still running) and reaps it.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const { return pid_; }
  //! Waits until the output contains `needle`; false on timeout or exit.
  bool wait_for_output(const std::string& needle, int timeout_ms = 30000);
  //! All output so far (stderr and stdout interleaved).
  std::string output();
  void signal(int signo);
  //! Waits for exit; returns the exit code (128 + signal), or -1 on timeout.
  int wait(int timeout_ms = 30000);
  //! Resident memory of the process in bytes (from /proc), 0 if gone.
  int64_t rss_bytes() const;

 private:
  void pump(int timeout_ms);
  int pid_ = -1;
  int fd_ = -1;
  std::string output_;
  int exit_code_ = -1;
};

//! Waits for another thread or process to reach a state (a server to queue requests, workers
//! to park): calls `reached` until it returns true or `timeout_ms` passes, pausing
//! `interval_ms` between calls. Returns the last answer of `reached`. Tests never sleep a fixed
//! time for a state; time inside the code under test is an injected clock (core/clock.h).
bool poll_until(const std::function<bool()>& reached, int timeout_ms = 30000, int interval_ms = 10);

//! "http://127.0.0.1:PORT" from a server's "listening on http://..." line.
std::string listening_url(const std::string& output);
//! A minimal blocking HTTP client for tests: status, headers (lower-case names) and body.
struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};
HttpResult http_request(const std::string& url, const std::string& method, const std::string& path,
                        const std::string& body = "", const std::vector<std::string>& headers = {},
                        int timeout_ms = 30000);

}  // namespace keel::testing
