#include "engine/benchmark.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <random>
#include <thread>

#include "core/clock.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/kernels.h"

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

BandwidthProbe::BandwidthProbe(int threads, size_t bytes)
    : threads_(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      data_(bytes / sizeof(float)) {
  // Touch every page from the thread that will read it.
  const size_t n = data_.size();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads_; ++t) {
    workers.emplace_back([&, t] {
      size_t begin = n * t / threads_, end = n * (t + 1) / threads_;
      for (size_t i = begin; i < end; ++i) data_[i] = static_cast<float>(i & 7);
    });
  }
  for (auto& w : workers) w.join();
  measure(1);  // the first read warms up
}

double BandwidthProbe::measure(int passes) {
  const size_t n = data_.size();
  const auto read_sum = kernels().read_sum_f32;
  std::vector<double> samples;
  std::vector<double> sums(threads_);
  for (int p = 0; p < std::max(1, passes); ++p) {
    std::vector<std::thread> workers;
    int64_t start = monotonic_now_ns();
    for (int t = 0; t < threads_; ++t) {
      workers.emplace_back([&, t] {
        size_t begin = n * t / threads_, end = n * (t + 1) / threads_;
        sums[t] = read_sum(data_.data() + begin, static_cast<int64_t>(end - begin));
      });
    }
    for (auto& w : workers) w.join();
    double seconds = (monotonic_now_ns() - start) / 1e9;
    samples.push_back(n * sizeof(float) / seconds / 1e9);
  }
  for (double s : sums) sink_ += s;  // keeps the reads
  return summarize(samples).median;
}

Spread measure_memory_bandwidth(int threads, size_t bytes, int reps) {
  BandwidthProbe probe(threads, bytes);
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) samples.push_back(probe.measure(1));
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

  std::unique_ptr<BandwidthProbe> probe;
  if (o.measure_bandwidth && o.gen_tokens > 0) {
    say(fmt::format("preparing the memory-bandwidth probe ({} threads, 1 GiB)", r.threads));
    probe = std::make_unique<BandwidthProbe>(r.threads);
  }
  say("warm-up");
  if (o.prompt_tokens > 0) KEEL_RETURN_IF_ERROR(run_prompt().status());
  std::vector<double> pp, tg, bandwidth, fraction;
  for (int rep = 0; rep < o.reps; ++rep) {
    if (o.prompt_tokens > 0) {
      KEEL_ASSIGN_OR_RETURN(double s, run_prompt());
      pp.push_back(o.prompt_tokens / s);
      say(fmt::format("rep {}/{}: pp{} {:.1f} tokens/s", rep + 1, o.reps, o.prompt_tokens, pp.back()));
    }
    if (o.gen_tokens > 0) {
      double before = probe ? probe->measure() : 0;
      KEEL_ASSIGN_OR_RETURN(double s, run_generation());
      tg.push_back(o.gen_tokens / s);
      std::string line = fmt::format("rep {}/{}: tg{} {:.2f} tokens/s", rep + 1, o.reps, o.gen_tokens, tg.back());
      if (probe) {
        bandwidth.push_back((before + probe->measure()) / 2);
        fraction.push_back(tg.back() * static_cast<double>(r.bytes_per_token) / (bandwidth.back() * 1e9));
        line += fmt::format(", bandwidth {:.1f} GB/s, {:.0f}% of the bound", bandwidth.back(), 100 * fraction.back());
      }
      say(line);
    }
  }
  r.pp_tokens_per_s = summarize(pp);
  r.tg_tokens_per_s = summarize(tg);
  if (probe) {
    r.bandwidth_gb_per_s = summarize(bandwidth);
    r.tg_fraction_of_bound_per_rep = summarize(fraction);
    r.tg_bound_tokens_per_s = r.bandwidth_gb_per_s.median * 1e9 / r.bytes_per_token;
    r.tg_fraction_of_bound = r.tg_fraction_of_bound_per_rep.median;
  }
  return r;
}

}  // namespace keel::engine
