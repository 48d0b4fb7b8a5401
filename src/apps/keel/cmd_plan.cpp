// keel plan SPEC [--json]: check a scenario spec and print its runtime plan.
// Exit 0 accepted (warnings allowed), 2 a check failed, 1 the spec cannot be read or parsed.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/checks.h"
#include "contract/plan.h"
#include "contract/plan_render.h"
#include "contract/spec_parser.h"
#include "core/json.h"

namespace keel::app {

void add_plan_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string spec;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand(
      "plan", "Check a scenario spec against known mistakes and print the runtime plan");
  cmd->add_option("spec", opts->spec, "scenario spec (YAML)")->required();
  cmd->add_flag("--json", opts->json, "print the plan as JSON");
  cmd->callback([opts, &exit_code] {
    contract::ParsedSpec parsed = contract::parse_spec_file(opts->spec);
    if (!parsed.ok()) {
      if (opts->json) {
        Json errors = Json::array();
        for (const auto& e : parsed.error()) {
          errors.push_back({{"path", e.path}, {"line", e.line}, {"message", e.message}});
        }
        std::printf("%s\n", dump_json({{"spec", opts->spec}, {"errors", errors}}, 2).c_str());
      }
      std::fprintf(stderr, "keel plan: %s is not a valid keel spec:\n", opts->spec.c_str());
      for (const auto& e : parsed.error()) std::fprintf(stderr, "  %s\n", e.to_string().c_str());
      exit_code = 1;
      return;
    }
    contract::Plan plan = contract::build_plan(*parsed, contract::run_checks(*parsed));
    std::string out = opts->json ? contract::render_plan_json(plan) + "\n"
                                 : contract::render_plan_text(plan);
    std::fwrite(out.data(), 1, out.size(), stdout);
    exit_code = plan.accepted ? 0 : 2;
  });
}

}  // namespace keel::app
