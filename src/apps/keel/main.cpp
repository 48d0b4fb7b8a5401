#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/keel/commands.h"
#include "core/closest_match.h"
#include "core/log.h"

namespace {

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

// CLI11 answers `keel frobnicate` with "A subcommand is required". Names the word instead, with
// the nearest command and the list, at the top level and one level down (`keel agent aprove`).
// Returns true when it reported one.
bool report_unknown_subcommand(CLI::App& app, int argc, char** argv) {
  CLI::App* level = &app;
  std::string prefix = "keel";
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--log-level") {
      ++i;
      continue;
    }
    if (word.empty() || word[0] == '-') {
      if (level != &app) return false;  // a subcommand's own options: CLI11 judges them
      continue;
    }
    std::vector<std::string> names = subcommand_names(*level);
    if (names.empty()) return false;
    auto found = level->get_subcommands([&](CLI::App* sub) { return sub->check_name(word); });
    if (!found.empty()) {
      level = found.front();
      prefix += " " + word;
      continue;
    }
    std::string message = prefix + ": unknown command '" + word + "'";
    std::string near = keel::closest_match(word, names);
    if (!near.empty()) message += "; did you mean '" + near + "'?";
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "%s\nCommands: %s\nRun `%s --help` for more information.\n", message.c_str(),
                 list.c_str(), prefix.c_str());
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "keel: put AI models into production under explicit contracts.\n"
      "A deployment is a scenario spec (YAML); `keel plan` checks it and prints the runtime "
      "plan."};
  app.name("keel");
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();  // --help shows every option's default
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
  keel::app::add_rag_command(app, exit_code);
  keel::app::add_field_command(app, exit_code);
  keel::app::add_sync_command(app, exit_code);
  keel::app::add_model_command(app, exit_code);
  keel::app::add_web_command(app, exit_code);
  keel::app::add_edge_command(app, exit_code);
  keel::app::add_checks_command(app, exit_code);
  keel::app::add_version_command(app, exit_code);

  if (report_unknown_subcommand(app, argc, argv)) return 1;
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
