// keel loadgen --url URL --concurrency C --requests N --prompt-tokens P --max-tokens M
//              [--shared-prefix T] [--api-key K] [--json]
// Throughput, TTFT/TPOT percentiles, goodput and errors by status against a local server.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/loadgen.h"
#include "core/json.h"
#include "core/text_table.h"

#include <fmt/format.h>

namespace keel::app {

void add_loadgen_command(CLI::App& root, int& exit_code) {
  struct Options {
    LoadgenOptions load;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("loadgen", "Load a local OpenAI-compatible server and measure it");
  cmd->add_option("--url", o->load.url, "server base URL (loopback only)");
  cmd->add_option("--model", o->load.model, "model name (default: the first the server lists)");
  cmd->add_option("--concurrency,-c", o->load.concurrency, "clients at once")->check(CLI::Range(1, 100000));
  cmd->add_option("--requests,-n", o->load.requests, "requests in all")->check(CLI::Range(1, 10000000));
  cmd->add_option("--prompt-tokens", o->load.prompt_tokens, "prompt length in words (about a token each)");
  cmd->add_option("--max-tokens", o->load.max_tokens, "max_tokens of each request");
  cmd->add_option("--shared-prefix", o->load.shared_prefix, "words every prompt starts with");
  cmd->add_option("--api-key", o->load.api_key, "API key");
  cmd->add_option("--time-limit-s", o->load.time_limit_s, "stop sending after this many seconds");
  cmd->add_option("--slo-ttft-ms", o->load.slo_ttft_ms, "TTFT objective for goodput");
  cmd->add_option("--slo-tpot-ms", o->load.slo_tpot_ms, "TPOT objective for goodput");
  cmd->add_flag("--chat", o->load.chat, "use /v1/chat/completions");
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->callback([o, &exit_code] {
    auto report = run_loadgen(o->load);
    if (!report.ok()) {
      std::fprintf(stderr, "keel loadgen: %s\n", report.status().to_string().c_str());
      exit_code = 1;
      return;
    }
    const auto& r = *report;
    Json statuses = Json::object();
    for (const auto& [status, n] : r.status_counts) statuses[std::to_string(status)] = n;
    if (o->json) {
      Json j = {{"sent", r.sent}, {"completed", r.completed}, {"statuses", statuses},
                {"seconds", r.seconds}, {"generated_tokens", r.generated_tokens}, {"prompt_tokens", r.prompt_tokens},
                {"cached_prompt_tokens", r.cached_tokens}, {"tokens_per_s", r.tokens_per_s},
                {"ttft_ms", {{"p50", r.ttft_p50_ms}, {"p95", r.ttft_p95_ms}, {"p99", r.ttft_p99_ms}}},
                {"tpot_ms", {{"p50", r.tpot_p50_ms}, {"p95", r.tpot_p95_ms}, {"p99", r.tpot_p99_ms}}},
                {"e2e_ms", {{"p50", r.e2e_p50_ms}, {"p99", r.e2e_p99_ms}}},
                {"goodput", r.goodput}, {"retry_after_s", r.retry_after_s},
                {"max_concurrent_streams", r.max_concurrent_streams}};
      std::printf("%s\n", dump_json(j, 2).c_str());
    } else {
      TextTable t({"measure", "value"});
      t.right_align(1);
      t.add_row({"requests sent / completed", fmt::format("{} / {}", r.sent, r.completed)});
      for (const auto& [status, n] : r.status_counts) t.add_row({fmt::format("status {}", status == 0 ? std::string("error") : std::to_string(status)), std::to_string(n)});
      t.add_row({"generated tokens/s", fmt::format("{:.1f}", r.tokens_per_s)});
      t.add_row({"TTFT p50 / p95 / p99 ms", fmt::format("{:.1f} / {:.1f} / {:.1f}", r.ttft_p50_ms, r.ttft_p95_ms, r.ttft_p99_ms)});
      t.add_row({"TPOT p50 / p95 / p99 ms", fmt::format("{:.1f} / {:.1f} / {:.1f}", r.tpot_p50_ms, r.tpot_p95_ms, r.tpot_p99_ms)});
      t.add_row({"goodput", fmt::format("{:.1f}%", 100 * r.goodput)});
      t.add_row({"prompt tokens served from cache", fmt::format("{} of {}", r.cached_tokens, r.prompt_tokens)});
      t.add_row({"most streams open at once", std::to_string(r.max_concurrent_streams)});
      std::printf("%s", t.render("").c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
