// keel generate --model M --prompt P [-n 64] [--temp 0] [--seed S] [--threads T] [--ctx N] [--json]
// Streams the continuation to stdout (or prints one JSON object with ids, text and metrics).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/run_stats.h"
#include "core/clock.h"
#include "core/json.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"

namespace keel::app {
namespace {

struct Options {
  std::string model, prompt;
  int64_t n = 64, ctx = 2048, batch = 256;
  float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f;
  int top_k = 40, threads = 0, logprobs = 0;
  uint64_t seed = 0xC0FFEE;
  std::vector<std::string> stop;
  bool json = false, ignore_eos = false, no_bos = false;
};

int fail(const Status& s) {
  std::fprintf(stderr, "keel generate: %s\n", s.to_string().c_str());
  return 1;
}

engine::GenerateOptions generate_options(const Options& o) {
  engine::GenerateOptions gopts;
  gopts.max_tokens = o.n;
  gopts.sampling.temperature = o.temp;
  gopts.sampling.top_k = o.top_k;
  gopts.sampling.top_p = o.top_p;
  gopts.sampling.min_p = o.min_p;
  gopts.sampling.repeat_penalty = o.repeat_penalty;
  gopts.sampling.seed = o.seed;
  gopts.stop = o.stop;
  gopts.ignore_eos = o.ignore_eos;
  gopts.top_logprobs = o.logprobs;
  return gopts;
}

// Per generated token: the chosen one's id and log-probability, then the most likely ones.
Json logprobs_json(const engine::GenerationResult& result) {
  Json steps = Json::array();
  for (const auto& step : result.logprobs) {
    Json top = Json::array();
    for (size_t i = 1; i < step.size(); ++i) {
      top.push_back({{"id", step[i].token}, {"logprob", step[i].logprob}});
    }
    steps.push_back({{"id", step[0].token}, {"logprob", step[0].logprob}, {"top_logprobs", top}});
  }
  return steps;
}

void print_json(const Options& o, const engine::Context& context,
                const std::vector<engine::TokenId>& prompt, const engine::GenerationResult& result,
                double load_ms) {
  const RunStats stats;
  const auto& t = result.timings;
  Json metrics = {{"load_ms", load_ms},
                  {"ttft_ms", t.ttft_ms},
                  {"tpot_ms", t.tpot_ms},
                  {"prompt_ms", t.prompt_ms},
                  {"prompt_tokens_per_s", t.prompt_tokens_per_s},
                  {"gen_tokens_per_s", t.gen_tokens_per_s},
                  {"rss_peak_bytes", stats.peak_rss_bytes()},
                  {"threads", context.options().n_threads},
                  {"kernels", engine::kernel_name()}};
  Json out = {{"model", o.model},
              {"prompt_tokens", prompt},
              {"tokens", result.tokens},
              {"text", result.text},
              {"finish_reason", std::string(engine::finish_reason_name(result.finish))},
              {"metrics", metrics}};
  if (o.logprobs > 0) out["logprobs"] = logprobs_json(result);
  std::printf("%s\n", dump_json(out, 2).c_str());
}

// After the streamed text: a newline on stdout, the timings on stderr.
void print_summary(const engine::GenerationResult& result, double load_ms) {
  const auto& t = result.timings;
  std::printf("\n");
  std::fprintf(stderr,
               "keel generate: %lld prompt tokens in %.1f ms (%.1f tokens/s), %lld generated "
               "in %.1f ms (%.1f tokens/s), load %.0f ms, finish: %s\n",
               static_cast<long long>(t.prompt_tokens), t.prompt_ms, t.prompt_tokens_per_s,
               static_cast<long long>(t.generated_tokens), t.generation_ms, t.gen_tokens_per_s,
               load_ms, std::string(engine::finish_reason_name(result.finish)).c_str());
}

int generate_text(const Options& o) {
  int64_t load_start = monotonic_now_ns();
  auto model = engine::Model::load(o.model);
  if (!model.ok()) return fail(model.status());
  engine::ContextOptions copts;
  copts.n_ctx = o.ctx;
  copts.n_batch = o.batch;
  copts.n_threads = o.threads;
  auto context = engine::Context::create(**model, copts);
  if (!context.ok()) return fail(context.status());
  double load_ms = (monotonic_now_ns() - load_start) / 1e6;
  auto seq = (*context)->add_sequence();
  if (!seq.ok()) return fail(seq.status());
  auto prompt = (*model)->tokenizer().encode(o.prompt, !o.no_bos, false);

  auto stream = [&](std::string_view text) {
    if (!o.json) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  };
  auto result = engine::generate(**context, *seq, prompt, generate_options(o), stream);
  if (!result.ok()) return fail(result.status());
  if (o.json) {
    print_json(o, **context, prompt, *result, load_ms);
  } else {
    print_summary(*result, load_ms);
  }
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("generate", "Continue a prompt with a GGUF model");
  cmd->add_option("--model,-m", o->model, "GGUF model file")->required();
  cmd->add_option("--prompt,-p", o->prompt, "prompt text")->required();
  cmd->add_option("-n,--max-tokens", o->n, "tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temp", o->temp, "temperature; 0 is greedy");
  cmd->add_option("--top-k", o->top_k, "keep the k most likely tokens (0: off)");
  cmd->add_option("--top-p", o->top_p, "keep the smallest set with this probability mass");
  cmd->add_option("--min-p", o->min_p, "drop tokens below this share of the best one");
  cmd->add_option("--repeat-penalty", o->repeat_penalty, "penalty for recent tokens (1: off)");
  cmd->add_option("--seed", o->seed, "random seed");
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_option("--ctx,-c", o->ctx, "context size in tokens")->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--batch,-b", o->batch, "prompt tokens per forward step")->check(CLI::Range(1, 8192));
  cmd->add_option("--stop", o->stop, "stop strings (repeatable)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-generation tokens");
  cmd->add_flag("--no-bos", o->no_bos, "do not add BOS/EOS the model's metadata asks for");
  cmd->add_flag("--json", o->json, "print ids, text and metrics as JSON");
  cmd->add_option("--logprobs", o->logprobs, "with --json: the n most likely tokens per step")
      ->check(CLI::Range(0, 20));
  cmd->callback([o, &exit_code] { exit_code = generate_text(*o); });
}

}  // namespace keel::app
