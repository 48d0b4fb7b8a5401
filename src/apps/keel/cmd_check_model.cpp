// keel check-model M.gguf [--json]: load the model, run a self-test and write the compatibility
// record (M.gguf.keel-check.json) that keel plan's check K009 reads.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/model_record.h"
#include "core/json.h"
#include "engine/model_check.h"

namespace keel::app {

void add_check_model_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::vector<std::string> models;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand(
      "check-model", "Self-test model files and record the result beside them (for keel plan)");
  cmd->add_option("models", o->models, "GGUF model files")->required();
  cmd->add_flag("--json", o->json, "print the records as JSON");
  cmd->callback([o, &exit_code] {
    exit_code = 0;
    Json records = Json::array();
    for (const auto& path : o->models) {
      auto record = engine::check_model(path);
      if (!record.ok()) {
        std::fprintf(stderr, "keel check-model: %s\n", record.status().to_string().c_str());
        exit_code = 1;
        continue;
      }
      if (!record->self_test_passed) exit_code = 2;
      if (o->json) {
        records.push_back({{"model", path},
                           {"record", contract::model_record_path(path)},
                           {"sha256", record->sha256},
                           {"architecture", record->architecture},
                           {"passed", record->self_test_passed},
                           {"detail", record->self_test_detail}});
      } else {
        std::printf("%s: %s (%s)\n  sha256 %s\n  record %s\n", path.c_str(),
                    record->self_test_passed ? "PASSED" : "FAILED", record->self_test_detail.c_str(),
                    record->sha256.c_str(), contract::model_record_path(path).c_str());
      }
    }
    if (o->json) std::printf("%s\n", dump_json(records, 2).c_str());
  });
}

}  // namespace keel::app
