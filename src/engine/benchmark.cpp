#include "engine/benchmark.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>

#include "core/clock.h"
#include "engine/context.h"
#include "engine/generator.h"

namespace keel::engine {

Spread summarize(std::vector<double> samples) {
  Spread s;
  s.samples = samples;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  s.median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

Spread measure_memory_bandwidth(int threads, size_t bytes, int reps) {
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t n = bytes / sizeof(float);
  std::vector<float> data(n);
  // Touch every page from the threads that will read it.
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      size_t begin = n * t / threads, end = n * (t + 1) / threads;
      for (size_t i = begin; i < end; ++i) data[i] = static_cast<float>(i & 7);
    });
  }
  for (auto& w : workers) w.join();
  std::vector<double> samples;
  std::vector<double> sums(threads);
  for (int r = 0; r < reps + 1; ++r) {
    workers.clear();
    int64_t start = monotonic_now_ns();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        size_t begin = n * t / threads, end = n * (t + 1) / threads;
        // Eight independent accumulators let the loop run at memory speed.
        float acc[8] = {};
        size_t i = begin;
        for (; i + 8 <= end; i += 8) {
          for (int k = 0; k < 8; ++k) acc[k] += data[i + k];
        }
        for (; i < end; ++i) acc[0] += data[i];
        double total = 0;
        for (float a : acc) total += a;
        sums[t] = total;
      });
    }
    for (auto& w : workers) w.join();
    double seconds = (monotonic_now_ns() - start) / 1e9;
    if (r > 0) samples.push_back(bytes / seconds / 1e9);  // the first pass warms up
  }
  volatile double sink = sums[0];
  (void)sink;
  return summarize(samples);
}

Result<BenchResult> run_benchmark(const std::string& model_path, const BenchOptions& o,
                                  const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  say(fmt::format("loading {}", model_path));
  KEEL_ASSIGN_OR_RETURN(auto model, Model::load(model_path));
  const ModelConfig& c = model->config();
  if (c.arch == Architecture::bert) {
    return Status::unimplemented("keel bench measures generative models; this one embeds");
  }
  ContextOptions copts;
  copts.n_ctx = o.prompt_tokens + o.gen_tokens + 16;
  copts.n_batch = std::max<int64_t>(1, std::min(o.batch, o.prompt_tokens));
  copts.n_threads = o.threads;
  KEEL_ASSIGN_OR_RETURN(auto context, Context::create(*model, copts));

  BenchResult r;
  r.model_path = model_path;
  r.model_type = model->type_summary();
  r.threads = context->options().n_threads;
  r.kernels = kernel_name();
  // Per generated token every matrix is read once, except the embedding table, of which one
  // row is read (unless it doubles as the output matrix).
  const ModelWeights& w = model->weights();
  for (const auto& t : model->file().tensors()) r.bytes_per_token += t.n_bytes;
  if (w.output.data != w.token_embd.data) {
    r.bytes_per_token -= w.token_embd.row_bytes * (w.token_embd.rows - 1);
  }

  std::mt19937 rng(42);
  std::uniform_int_distribution<TokenId> any_token(0, static_cast<TokenId>(c.n_vocab - 1));
  std::vector<TokenId> prompt(o.prompt_tokens);
  for (auto& t : prompt) t = any_token(rng);

  auto run_prompt = [&]() -> Result<double> {
    KEEL_ASSIGN_OR_RETURN(int32_t seq, context->add_sequence());
    int64_t start = monotonic_now_ns();
    Status s = prefill(*context, seq, prompt);
    double seconds = (monotonic_now_ns() - start) / 1e9;
    context->remove_sequence(seq);
    KEEL_RETURN_IF_ERROR(s);
    return seconds;
  };
  auto run_generation = [&]() -> Result<double> {
    KEEL_ASSIGN_OR_RETURN(int32_t seq, context->add_sequence());
    int64_t start = monotonic_now_ns();
    for (int64_t i = 0; i < o.gen_tokens; ++i) {
      BatchToken t{any_token(rng), seq, i, true};
      Status s = context->decode(std::span<const BatchToken>(&t, 1));
      if (!s.ok()) {
        context->remove_sequence(seq);
        return s;
      }
    }
    double seconds = (monotonic_now_ns() - start) / 1e9;
    context->remove_sequence(seq);
    return seconds;
  };

  say("warm-up");
  if (o.prompt_tokens > 0) KEEL_RETURN_IF_ERROR(run_prompt().status());
  std::vector<double> pp, tg;
  for (int rep = 0; rep < o.reps; ++rep) {
    if (o.prompt_tokens > 0) {
      KEEL_ASSIGN_OR_RETURN(double s, run_prompt());
      pp.push_back(o.prompt_tokens / s);
      say(fmt::format("rep {}/{}: pp{} {:.1f} tokens/s", rep + 1, o.reps, o.prompt_tokens, pp.back()));
    }
    if (o.gen_tokens > 0) {
      KEEL_ASSIGN_OR_RETURN(double s, run_generation());
      tg.push_back(o.gen_tokens / s);
      say(fmt::format("rep {}/{}: tg{} {:.2f} tokens/s", rep + 1, o.reps, o.gen_tokens, tg.back()));
    }
  }
  r.pp_tokens_per_s = summarize(pp);
  r.tg_tokens_per_s = summarize(tg);
  if (o.measure_bandwidth) {
    say(fmt::format("measuring memory bandwidth ({} threads)", r.threads));
    r.bandwidth_gb_per_s = measure_memory_bandwidth(r.threads);
    r.tg_bound_tokens_per_s = r.bandwidth_gb_per_s.median * 1e9 / r.bytes_per_token;
    if (r.tg_bound_tokens_per_s > 0) {
      r.tg_fraction_of_bound = r.tg_tokens_per_s.median / r.tg_bound_tokens_per_s;
    }
  }
  return r;
}

}  // namespace keel::engine
