// keel quantize IN.gguf OUT.gguf TYPE [--json]: convert a model's weights (Q8_0, Q4_0, Q4_K_M,
// ...). Progress goes to stderr, the summary (or its JSON) to stdout.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <thread>

#include "apps/keel/commands.h"
#include "core/json.h"
#include "engine/quantizer.h"

namespace keel::app {

void add_quantize_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string input, output, type;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("quantize", "Write a copy of a GGUF model with quantized weights");
  cmd->add_option("input", o->input, "source GGUF file")->required();
  cmd->add_option("output", o->output, "GGUF file to write")->required();
  cmd->add_option("type", o->type, "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q6_K or Q4_K_M")->required();
  cmd->add_option("--threads,-t", o->threads, "threads (0: all cores)");
  cmd->add_flag("--json", o->json, "print the summary as JSON");
  cmd->callback([o, &exit_code] {
    int threads = o->threads > 0 ? o->threads : static_cast<int>(std::thread::hardware_concurrency());
    auto report = engine::quantize_model(
        o->input, o->output, o->type, threads, [](const engine::QuantizeProgress& p) {
          std::fprintf(stderr, "[%3zu/%3zu] %-32s %-5s -> %-5s %10.2f MiB\n", p.tensor_index + 1,
                       p.tensor_count, p.name.c_str(),
                       std::string(engine::tensor_type_name(p.from)).c_str(),
                       std::string(engine::tensor_type_name(p.to)).c_str(), p.bytes_out / 1048576.0);
        });
    if (!report.ok()) {
      std::fprintf(stderr, "keel quantize: %s\n", report.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    if (o->json) {
      Json j = {{"input", o->input},          {"output", o->output},
                {"type", o->type},            {"bytes_in", report->bytes_in},
                {"bytes_out", report->bytes_out}, {"tensors", report->tensors},
                {"quantized", report->quantized}, {"seconds", report->seconds}};
      std::printf("%s\n", dump_json(j, 2).c_str());
      exit_code = 0;
      return;
    }
    std::printf("%s: %.1f MiB -> %.1f MiB, %zu of %zu tensors converted in %.1f s\n",
                o->output.c_str(), report->bytes_in / 1048576.0, report->bytes_out / 1048576.0,
                report->quantized, report->tensors, report->seconds);
    exit_code = 0;
  });
}

}  // namespace keel::app
