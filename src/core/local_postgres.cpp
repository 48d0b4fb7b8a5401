#include "core/local_postgres.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace keel {
namespace {

std::string find_bin_dir() {
  for (const char* candidate : {"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"})
    if (access((std::string(candidate) + "/initdb").c_str(), X_OK) == 0) return candidate;
  return "";
}

// Runs argv (as `postgres` when we are root), its output collected; the exit code, -1 when it
// could not run.
int run(std::vector<std::string> argv, std::string* output) {
  if (geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) output->append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string log_tail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

pid_t postmaster_pid(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  long pid = 0;
  return in >> pid ? static_cast<pid_t>(pid) : 0;
}

bool plain_path(const std::string& p) {
  return !p.empty() && std::all_of(p.begin(), p.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '/' || c == '-';
  });
}

}  // namespace

Result<std::unique_ptr<LocalPostgres>> LocalPostgres::start(const std::string& dir, const Progress& progress) {
  const std::string bin = find_bin_dir();
  if (bin.empty())
    return Status::failed_precondition("PostgreSQL is not installed: apt-get install postgresql (tools/setup.sh installs it)");
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (ec || !plain_path(abs))
    return Status::invalid_argument(fmt::format("--pg-data '{}': use a path of letters, digits and _ . / - only", dir));
  std::filesystem::create_directories(abs, ec);
  if (ec) return Status::unavailable(fmt::format("cannot create {}: {}", abs, ec.message()));
  chmod(abs.c_str(), 0700);
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam("postgres");
    if (!pw) return Status::failed_precondition("there is no postgres user to run PostgreSQL as (install postgresql)");
    if (chown(abs.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return Status::unavailable(fmt::format("cannot hand {} to the postgres user", abs));
  }
  auto cluster = std::unique_ptr<LocalPostgres>(new LocalPostgres());
  cluster->dir_ = abs;
  const std::string data = abs + "/data";
  std::string output;
  if (access((data + "/PG_VERSION").c_str(), F_OK) != 0) {
    if (progress) progress(fmt::format("creating a PostgreSQL cluster in {}", data));
    if (run({bin + "/initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8"}, &output) != 0)
      return Status::failed_precondition(fmt::format(
          "initdb failed{}: {}",
          geteuid() == 0 ? " (the postgres user must be able to reach the folder: choose one under /tmp or /var/lib)" : "",
          output));
    cluster->created_ = true;
  }
  output.clear();
  if (run({bin + "/pg_ctl", "-D", data, "status"}, &output) == 0) {
    if (progress) progress(fmt::format("using the PostgreSQL already running in {}", data));
    return cluster;
  }
  if (progress) progress(fmt::format("starting PostgreSQL in {} (Unix socket only)", data));
  output.clear();
  const std::string log = abs + "/server.log";
  if (run({bin + "/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
           "-k " + abs + " -c listen_addresses='' -c unix_socket_permissions=0700", "start"},
          &output) != 0)
    return Status::unavailable(fmt::format("PostgreSQL did not start: {}{}", output, log_tail(log)));
  cluster->started_here_ = true;
  return cluster;
}

LocalPostgres::~LocalPostgres() {
  if (!started_here_) return;
  const std::string data = dir_ + "/data";
  const pid_t pid = postmaster_pid(data);
  if (pid <= 0 || kill(pid, SIGINT) != 0) return;  // SIGINT: fast shutdown
  for (int i = 0; i < 600 && access((data + "/postmaster.pid").c_str(), F_OK) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

std::string LocalPostgres::uri(const std::string& user, const std::string& database) const {
  return fmt::format("postgresql:///{}?host={}&user={}", database, dir_, user);
}

}  // namespace keel
