#include <CLI/CLI.hpp>

#include <cstdio>

#include "apps/keel/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{
      "keel: put AI models into production under explicit contracts.\n"
      "A deployment is a scenario spec (YAML); `keel plan` checks it and prints the runtime "
      "plan."};
  app.name("keel");
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (stderr)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&] {
    keel::LogLevel level;
    if (keel::parse_log_level(log_level, &level)) keel::set_log_level(level);
  });

  int exit_code = 0;
  keel::app::add_plan_command(app, exit_code);
  keel::app::add_generate_command(app, exit_code);
  keel::app::add_tokenize_command(app, exit_code);
  keel::app::add_embed_command(app, exit_code);
  keel::app::add_quantize_command(app, exit_code);
  keel::app::add_bench_command(app, exit_code);
  keel::app::add_check_model_command(app, exit_code);
  keel::app::add_index_command(app, exit_code);
  keel::app::add_ask_command(app, exit_code);
  keel::app::add_run_command(app, exit_code);
  keel::app::add_eval_command(app, exit_code);
  keel::app::add_serve_command(app, exit_code);
  keel::app::add_keygen_command(app, exit_code);
  keel::app::add_loadgen_command(app, exit_code);
  keel::app::add_agent_command(app, exit_code);
  keel::app::add_mcp_command(app, exit_code);
  keel::app::add_checks_command(app, exit_code);
  keel::app::add_version_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return e.get_exit_code() == 0 ? 0 : 1;
  }
  return exit_code;
}
