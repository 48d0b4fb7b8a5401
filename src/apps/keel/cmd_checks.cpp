// keel checks [--json]: the catalog of named checks `keel plan` runs.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/checks.h"
#include "core/json.h"
#include "core/text_table.h"

namespace keel::app {

void add_checks_command(CLI::App& root, int& exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = root.add_subcommand("checks", "List the named checks keel plan runs");
  cmd->add_flag("--json", *json, "print as JSON");
  cmd->callback([json, &exit_code] {
    if (*json) {
      Json out = Json::array();
      for (const auto& c : contract::check_catalog()) {
        out.push_back({{"id", c.id}, {"title", c.title}, {"why", c.why}});
      }
      std::printf("%s\n", dump_json(out, 2).c_str());
    } else {
      TextTable table({"id", "check", "why it matters"}, 64);
      for (const auto& c : contract::check_catalog()) {
        table.add_row({std::string(c.id), std::string(c.title), std::string(c.why)});
      }
      std::printf("%s", table.render("").c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
