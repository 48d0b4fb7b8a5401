// keel bench --model M [-p 128] [-n 64] [--threads T] [--reps 3] [--json]
// Prompt and generation speed, memory bandwidth measured in the same run, and generation as a
// fraction of the bandwidth bound.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "core/json.h"
#include "core/text_table.h"

#include <fmt/format.h>
#include "engine/benchmark.h"

namespace keel::app {

namespace {

Json spread_json(const engine::Spread& s) {
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"samples", s.samples}};
}

}  // namespace

void add_bench_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string model;
    engine::BenchOptions bench;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("bench", "Measure prompt and generation speed of a model");
  cmd->add_option("--model,-m", o->model, "GGUF model")->required();
  cmd->add_option("-p,--prompt-tokens", o->bench.prompt_tokens, "prompt length (pp)")->check(CLI::Range(0, 16384));
  cmd->add_option("-n,--gen-tokens", o->bench.gen_tokens, "tokens generated (tg)")->check(CLI::Range(0, 16384));
  cmd->add_option("--threads,-t", o->bench.threads, "compute threads (0: all cores)");
  cmd->add_option("--reps,-r", o->bench.reps, "repetitions (medians are reported)")->check(CLI::Range(1, 100));
  cmd->add_option("--batch,-b", o->bench.batch, "prompt tokens per forward step")->check(CLI::Range(1, 8192));
  cmd->add_flag("--json", o->json, "print the results as JSON");
  cmd->callback([o, &exit_code] {
    auto result = engine::run_benchmark(o->model, o->bench, [](const std::string& line) {
      std::fprintf(stderr, "keel bench: %s\n", line.c_str());
    });
    if (!result.ok()) {
      std::fprintf(stderr, "keel bench: %s\n", result.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    const auto& r = *result;
    if (o->json) {
      Json out = {{"model", r.model_path},
                  {"type", r.model_type},
                  {"threads", r.threads},
                  {"kernels", r.kernels},
                  {"prompt_tokens", o->bench.prompt_tokens},
                  {"gen_tokens", o->bench.gen_tokens},
                  {"pp_tokens_per_s", spread_json(r.pp_tokens_per_s)},
                  {"tg_tokens_per_s", spread_json(r.tg_tokens_per_s)},
                  {"bandwidth_gb_per_s", r.bandwidth_gb_per_s.median},
                  {"bandwidth", spread_json(r.bandwidth_gb_per_s)},
                  {"tg_fraction_of_bound_per_rep", spread_json(r.tg_fraction_of_bound_per_rep)},
                  {"bytes_per_token", r.bytes_per_token},
                  {"tg_bound_tokens_per_s", r.tg_bound_tokens_per_s},
                  {"tg_fraction_of_bound", r.tg_fraction_of_bound}};
      std::printf("%s\n", dump_json(out, 2).c_str());
    } else {
      TextTable t({"model", "type", "threads", "test", "tokens/s (median)", "min..max", "bound", "of bound"});
      for (int c : {2, 4, 5, 6, 7}) t.right_align(c);
      auto range = [](const engine::Spread& s) { return fmt::format("{:.2f}..{:.2f}", s.min, s.max); };
      t.add_row({r.model_path, r.model_type, std::to_string(r.threads),
                 fmt::format("pp{}", o->bench.prompt_tokens),
                 fmt::format("{:.2f}", r.pp_tokens_per_s.median), range(r.pp_tokens_per_s), "", ""});
      t.add_row({"", "", "", fmt::format("tg{}", o->bench.gen_tokens),
                 fmt::format("{:.2f}", r.tg_tokens_per_s.median), range(r.tg_tokens_per_s),
                 fmt::format("{:.2f}", r.tg_bound_tokens_per_s),
                 fmt::format("{:.0f}%", 100 * r.tg_fraction_of_bound)});
      std::printf("%s", t.render("").c_str());
      std::printf("memory bandwidth %.1f GB/s (median; %.1f..%.1f, read around each generation run), "
                  "%.1f MB read per generated token, kernels %s\n",
                  r.bandwidth_gb_per_s.median, r.bandwidth_gb_per_s.min, r.bandwidth_gb_per_s.max,
                  r.bytes_per_token / 1e6, r.kernels.c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
