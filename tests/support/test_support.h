// Helpers shared by Keel's tests: paths of the source and build trees, temporary folders,
// running the real `keel` binary (or any program) and capturing what it prints.
#pragma once

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
bool have_program(const std::string& program);

}  // namespace keel::testing
