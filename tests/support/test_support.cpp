#include "support/test_support.h"

#include "net/http_client.h"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace keel::testing {

std::string source_dir() { return KEEL_SOURCE_DIR; }
std::string binary_dir() { return KEEL_BINARY_DIR; }
std::string keel_binary() { return binary_dir() + "/keel"; }

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && (std::string(ci) == "true" || std::string(ci) == "1");
}

std::optional<std::string> fixtures_dir() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("KEEL_FIXTURES")) candidates.push_back(env);
  candidates.push_back(source_dir() + "/../shared/fixtures");
  candidates.push_back(source_dir() + "/shared/fixtures");
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_directory(c, ec)) return fs::canonical(c, ec).string();
  }
  return std::nullopt;
}

namespace {

// posix_spawnp of argv with this process's environment, `env` overriding or adding entries;
// consumes `actions`. Returns posix_spawnp's result.
int spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          posix_spawn_file_actions_t* actions, pid_t* pid) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (!env.count(entry.substr(0, entry.find('=')))) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  for (auto& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  int rc = posix_spawnp(pid, c_args[0], actions, nullptr, c_args.data(), envp.data());
  posix_spawn_file_actions_destroy(actions);
  return rc;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data,
                          const std::map<std::string, std::string>& env, int timeout_seconds) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  pid_t pid;
  int rc = spawn(argv, env, &actions, &pid);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.exit_code = 127;
    result.err = std::string("spawn failed: ") + std::strerror(rc);
    return result;
  }
  signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  if (stdin_data.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  } else {
    fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool out_open = true, err_open = true;
  char buffer[65536];
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (in_pipe[1] >= 0) fds.push_back({in_pipe[1], POLLOUT, 0});
    int ready = poll(fds.data(), fds.size(), 200);
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
    if (ready <= 0) continue;
    for (const auto& p : fds) {
      if (!p.revents) continue;
      if (p.fd == in_pipe[1]) {
        ssize_t n = write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
        if (n > 0) written += n;
        if (n < 0 || written == stdin_data.size()) {
          close(in_pipe[1]);
          in_pipe[1] = -1;
        }
        continue;
      }
      ssize_t n = read(p.fd, buffer, sizeof buffer);
      if (n <= 0) {
        (p.fd == out_pipe[0] ? out_open : err_open) = false;
      } else {
        (p.fd == out_pipe[0] ? result.out : result.err).append(buffer, n);
      }
    }
  }
  if (in_pipe[1] >= 0) close(in_pipe[1]);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult run_keel(const std::vector<std::string>& args, const std::string& stdin_data) {
  std::vector<std::string> argv = {keel_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, stdin_data);
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/keel-test-XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << content;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid;
  int rc = spawn(argv, env, &actions, &pid);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error(std::string("spawn failed: ") + std::strerror(rc));
  }
  pid_ = pid;
  fd_ = out[0];
  fcntl(fd_, F_SETFL, O_NONBLOCK);
}

BackgroundProcess::~BackgroundProcess() {
  if (exit_code_ < 0 && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (fd_ >= 0) close(fd_);
}

void BackgroundProcess::pump(int timeout_ms) {
  if (fd_ < 0) return;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      output_.append(buffer, n);
      continue;
    }
    if (n == 0) {
      close(fd_);
      fd_ = -1;
    }
    break;
  }
}

bool poll_until(const std::function<bool()>& reached, int timeout_ms, int interval_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (reached()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return reached();
    // The only pause in the tests: it spaces out the checks of a state another thread or
    // process is moving towards, so they do not starve it of CPU; the state decides.
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

bool BackgroundProcess::wait_for_output(const std::string& needle, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (output_.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || fd_ < 0) return output_.find(needle) != std::string::npos;
    pump(100);
  }
  return true;
}

std::string BackgroundProcess::output() {
  pump(0);
  return output_;
}

void BackgroundProcess::signal(int signo) {
  if (exit_code_ < 0) kill(pid_, signo);
}

int BackgroundProcess::wait(int timeout_ms) {
  if (exit_code_ >= 0) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pump(0);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    pump(50);
  }
}

int64_t BackgroundProcess::rss_bytes() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

std::string listening_url(const std::string& output) {
  const std::string marker = "listening on ";
  size_t at = output.find(marker + "http://");
  if (at == std::string::npos) return "";
  size_t start = at + marker.size();
  size_t end = output.find_first_of(" \n\r", start);
  return output.substr(start, end - start);
}

HttpResult http_request(const std::string& url, const std::string& method, const std::string& path,
                        const std::string& body, const std::vector<std::string>& headers, int timeout_ms) {
  net::HttpClientRequest request;
  request.method = method;
  request.url = url + path;
  request.body = body;
  request.timeout_ms = timeout_ms;
  for (const auto& h : headers) {
    size_t colon = h.find(':');
    size_t value = h.find_first_not_of(' ', colon + 1);
    request.headers.emplace_back(h.substr(0, colon), value == std::string::npos ? "" : h.substr(value));
  }
  HttpResult result;
  auto response = net::http_fetch(request);
  if (!response.ok()) return result;  // status 0: no response
  result.status = response->status;
  result.headers = response->headers;
  result.body = std::move(response->body);
  return result;
}

namespace {

std::string find_postgres_bin_dir() {
  for (const char* candidate : {"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"}) {
    if (access((std::string(candidate) + "/initdb").c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

PostgresServer::PostgresServer() {
  bin_dir_ = find_postgres_bin_dir();
  if (bin_dir_.empty()) {
    error_ = "PostgreSQL is not installed (tools/setup.sh installs it)";
    return;
  }
  char tmpl[] = "/tmp/keel-pg-XXXXXX";
  if (!mkdtemp(tmpl)) {
    error_ = "cannot make a temporary folder";
    return;
  }
  dir_ = tmpl;
  if (geteuid() == 0) {
    auto chown = run_command({"chown", "-R", "postgres:postgres", dir_});
    if (chown.exit_code != 0) {
      error_ = "cannot hand the folder to the postgres user: " + chown.err;
      return;
    }
  }
  auto init = pg({bin_dir_ + "/initdb", "-D", dir_ + "/data", "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8"});
  if (init.exit_code != 0) {
    error_ = "initdb failed: " + init.out + init.err;
    return;
  }
  ok_ = start();
}

PostgresServer::~PostgresServer() {
  if (!dir_.empty()) {
    if (ok_) stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

CommandResult PostgresServer::pg(const std::vector<std::string>& argv) {
  std::vector<std::string> full;
  if (geteuid() == 0) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full, "", {}, 120);
}

std::string PostgresServer::uri(const std::string& user) const {
  return "postgresql:///postgres?host=" + dir_ + "&user=" + user;
}

std::string PostgresServer::scalar(const std::string& sql, const std::string& user) const {
  PGconn* c = PQconnectdb(uri(user).c_str());
  PGresult* r = PQexec(c, sql.c_str());
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0)
                                                                           : std::string("ERROR: ") + PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  return v;
}

bool PostgresServer::start() {
  auto r = pg({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t", "60", "-o",
               "-k " + dir_ + " -c listen_addresses='' -c fsync=off -c max_connections=40", "start"});
  if (r.exit_code != 0) {
    std::string log;
    try {
      log = read_file(dir_ + "/server.log");
    } catch (const std::exception&) {
    }
    error_ = "pg_ctl start failed: " + r.out + r.err + log;
    return false;
  }
  return true;
}

bool PostgresServer::stop() {
  auto r = pg({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-w", "-t", "60", "-m", "fast", "stop"});
  return r.exit_code == 0;
}

bool have_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace keel::testing
