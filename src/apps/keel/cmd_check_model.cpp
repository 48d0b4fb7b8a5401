// keel check-model M.gguf [--json]: the engine's self-test of the model, written as the
// compatibility record (M.gguf.keel-check.json) that keel plan's check K009 reads.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/model_record.h"
#include "core/json.h"
#include "core/version.h"
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
      auto check = engine::check_model(path, [&](const std::string& stage, uint64_t done, uint64_t total) {
        if (stage == "hashing" && total > (256u << 20)) {
          std::fprintf(stderr, "keel check-model: %s: hashing %.1f of %.1f GB\n", path.c_str(), done / 1e9, total / 1e9);
        } else if (stage == "self-test") {
          std::fprintf(stderr, "keel check-model: %s: self-test\n", path.c_str());
        }
      });
      if (!check.ok()) {
        std::fprintf(stderr, "keel check-model: %s\n", check.status().to_string().c_str());
        exit_code = 1;
        continue;
      }
      contract::ModelRecord record;
      record.file = std::filesystem::path(path).filename().string();
      record.file_size = check->file_size;
      record.file_mtime_ns = check->file_mtime_ns;
      record.sha256 = check->sha256;
      record.engine_version = std::string(keel_version());
      record.format = "gguf";
      record.architecture = check->architecture;
      record.self_test_passed = check->passed;
      record.self_test_detail = check->detail;
      record.checked_at_unix_s = static_cast<int64_t>(std::time(nullptr));
      Status written = contract::write_model_record(path, record);
      if (!written.ok()) {
        std::fprintf(stderr, "keel check-model: %s\n", written.to_string().c_str());
        exit_code = 1;
        continue;
      }
      if (!record.self_test_passed) exit_code = 2;
      if (o->json) {
        records.push_back({{"model", path},
                           {"record", contract::model_record_path(path)},
                           {"sha256", record.sha256},
                           {"architecture", record.architecture},
                           {"passed", record.self_test_passed},
                           {"detail", record.self_test_detail}});
      } else {
        std::printf("%s: %s (%s)\n  sha256 %s\n  record %s\n", path.c_str(),
                    record.self_test_passed ? "PASSED" : "FAILED", record.self_test_detail.c_str(),
                    record.sha256.c_str(), contract::model_record_path(path).c_str());
      }
    }
    if (o->json) std::printf("%s\n", dump_json(records, 2).c_str());
  });
}

}  // namespace keel::app
