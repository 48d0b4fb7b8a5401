// keel version [--json]: version, commit, build type, compiler.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "core/json.h"
#include "core/version.h"

namespace keel::app {

void add_version_command(CLI::App& root, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = root.add_subcommand("version", "Print the version of keel");
  cmd->add_flag("--json", *json, "print as JSON");
  cmd->callback([json, &exit_code] {
    if (*json) {
      Json out = {{"version", keel_version()},
                  {"commit", keel_git_commit()},
                  {"build_type", keel_build_type()},
                  {"compiler", keel_compiler()}};
      std::printf("%s\n", dump_json(out, 2).c_str());
    } else {
      std::printf("keel %.*s (commit %.*s, %.*s, %.*s)\n",
                  static_cast<int>(keel_version().size()), keel_version().data(),
                  static_cast<int>(keel_git_commit().size()), keel_git_commit().data(),
                  static_cast<int>(keel_build_type().size()), keel_build_type().data(),
                  static_cast<int>(keel_compiler().size()), keel_compiler().data());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
