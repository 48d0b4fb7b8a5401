// The engine on tiny models written here: loading errors, generation (stop strings, streaming,
// limits), sampling, quantization of a whole model, memory fit and the compute pool.
#include <gtest/gtest.h>

#include <atomic>
#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include <sys/stat.h>
#include <limits>

#include "engine/compute_pool.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/gguf_writer.h"
#include "engine/matmul.h"
#include "engine/quants.h"
#include "engine/memory_fit.h"
#include "engine/model.h"
#include "engine/model_check.h"
#include "engine/quantizer.h"
#include "engine/sampler.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

std::unique_ptr<Model> tiny(const TempDir& dir, testing::TinyModelSpec spec = {},
                            const std::string& name = "tiny.gguf") {
  testing::write_tiny_model(spec, dir.file(name));
  auto m = Model::load(dir.file(name));
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(*m) : nullptr;
}

TEST(Model, LoadsEachArchitectureAndTiedOutputs) {
  TempDir dir;
  for (const char* arch : {"llama", "qwen2", "bert"}) {
    testing::TinyModelSpec spec;
    spec.arch = arch;
    auto m = tiny(dir, spec, std::string(arch) + ".gguf");
    ASSERT_NE(m, nullptr) << arch;
    EXPECT_EQ(m->config().arch_name, arch);
  }
  testing::TinyModelSpec tied;
  tied.tied_output = true;
  auto m = tiny(dir, tied, "tied.gguf");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->weights().output.data, m->weights().token_embd.data);
}

TEST(Model, MissingOrMisshapenTensorsAreNamed) {
  TempDir dir;
  testing::write_tiny_model({}, dir.file("good.gguf"));
  auto good = GgufFile::open(dir.file("good.gguf"));
  ASSERT_TRUE(good.ok());
  auto rewrite = [&](const std::string& drop, const std::string& reshape) {
    GgufWriter w;
    for (const auto& [k, v] : (*good)->metadata()) w.copy_value(k, v);
    for (const auto& t : (*good)->tensors()) {
      if (t.name == drop) continue;
      auto dims = t.dims;
      uint64_t bytes = t.n_bytes;
      if (t.name == reshape) {
        dims = {dims[0], dims[1] / 2};
        bytes /= 2;
      }
      EXPECT_TRUE(w.add_tensor_view(t.name, dims, t.type, {t.data, bytes}).ok());
    }
    EXPECT_TRUE(w.write(dir.file("bad.gguf")).ok());
    return Model::load(dir.file("bad.gguf")).status();
  };
  Status missing = rewrite("blk.1.ffn_up.weight", "");
  EXPECT_NE(missing.message().find("tensor 'blk.1.ffn_up.weight' is missing"), std::string::npos)
      << missing.message();
  Status shape = rewrite("", "blk.0.attn_k.weight");
  EXPECT_NE(shape.message().find("tensor 'blk.0.attn_k.weight' has shape"), std::string::npos)
      << shape.message();
}

TEST(Generate, StopsAtLimitsStopStringsAndCancellation) {
  TempDir dir;
  testing::TinyModelSpec spec;
  spec.output_scale = 4;
  auto model = tiny(dir, spec);
  ContextOptions options;
  options.n_ctx = 64;
  auto context = Context::create(*model, options);
  ASSERT_TRUE(context.ok());
  auto prompt = model->tokenizer().encode("the cat sat", true, false);

  auto run = [&](GenerateOptions g, std::string* streamed, bool cancel_early = false) {
    auto seq = (*context)->add_sequence();
    EXPECT_TRUE(seq.ok());
    int calls = 0;
    auto result = generate(**context, *seq, prompt, g, [&](std::string_view piece) {
      *streamed += piece;
      return !(cancel_early && ++calls == 2);
    });
    (*context)->remove_sequence(*seq);
    EXPECT_TRUE(result.ok()) << result.status().to_string();
    return std::move(*result);
  };
  GenerateOptions g;
  g.sampling.temperature = 0;
  g.ignore_eos = true;
  g.max_tokens = 12;
  std::string streamed;
  GenerationResult full = run(g, &streamed);
  EXPECT_EQ(full.tokens.size(), 12u);
  EXPECT_EQ(full.finish, FinishReason::length);
  EXPECT_EQ(streamed, full.text);
  ASSERT_GE(full.text.size(), 4u);

  // A stop string cut from the middle of the greedy text ends generation before it.
  std::string stop = full.text.substr(full.text.size() / 2, 3);
  g.stop = {stop};
  streamed.clear();
  GenerationResult stopped = run(g, &streamed);
  EXPECT_EQ(stopped.finish, FinishReason::stop);
  EXPECT_EQ(stopped.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_EQ(streamed, stopped.text);
  EXPECT_EQ(streamed.find(stop), std::string::npos);

  g.stop.clear();
  streamed.clear();
  GenerationResult cancelled = run(g, &streamed, true);
  EXPECT_EQ(cancelled.finish, FinishReason::cancelled);
  EXPECT_LT(cancelled.tokens.size(), 12u);

  // The context fills up.
  g.max_tokens = 1000;
  streamed.clear();
  GenerationResult full_context = run(g, &streamed);
  EXPECT_EQ(full_context.finish, FinishReason::context_full);
  // Every position is used; the last token is sampled from the full context and not stored.
  EXPECT_EQ(static_cast<int64_t>(prompt.size() + full_context.tokens.size()), options.n_ctx + 1);
}

TEST(Generate, SeedMakesSamplingReproducible) {
  TempDir dir;
  auto model = tiny(dir);
  auto context = Context::create(*model, {});
  ASSERT_TRUE(context.ok());
  auto prompt = model->tokenizer().encode("the dog", true, false);
  auto sample = [&](uint64_t seed) {
    auto seq = (*context)->add_sequence();
    GenerateOptions g;
    g.max_tokens = 16;
    g.ignore_eos = true;
    g.sampling.temperature = 1.5f;
    g.sampling.top_k = 0;
    g.sampling.top_p = 1.0f;
    g.sampling.min_p = 0;
    g.sampling.seed = seed;
    auto r = generate(**context, *seq, prompt, g);
    (*context)->remove_sequence(*seq);
    return r->tokens;
  };
  EXPECT_EQ(sample(7), sample(7));
  EXPECT_NE(sample(7), sample(8));
}

TEST(Sampler, FiltersAndPenalties) {
  std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f, 2.9f};
  SamplingParams greedy;
  greedy.temperature = 0;
  EXPECT_EQ(Sampler(greedy, 5).sample(logits, {}), 1);
  // A repetition penalty on token 1 hands the choice to token 4.
  greedy.repeat_penalty = 1.5f;
  std::vector<TokenId> history = {1};
  EXPECT_EQ(Sampler(greedy, 5).sample(logits, history), 4);
  greedy.repeat_penalty = 1.0f;
  greedy.presence_penalty = 2.0f;
  EXPECT_EQ(Sampler(greedy, 5).sample(logits, history), 4);

  // top_k = 2 only ever returns the two best tokens; min_p drops the tail.
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 2;
  p.top_p = 1.0f;
  p.min_p = 0;
  Sampler s(p, 5);
  std::set<TokenId> seen;
  for (int i = 0; i < 200; ++i) seen.insert(s.sample(logits, {}));
  EXPECT_EQ(seen, (std::set<TokenId>{1, 4}));
  p.top_k = 0;
  p.min_p = 0.9f;
  p.temperature = 1.0f;
  Sampler m(p, 5);
  seen.clear();
  for (int i = 0; i < 200; ++i) seen.insert(m.sample(logits, {}));
  EXPECT_EQ(seen, (std::set<TokenId>{1, 4}));
  p.min_p = 0;
  p.top_p = 0.3f;
  Sampler tp(p, 5);
  seen.clear();
  for (int i = 0; i < 200; ++i) seen.insert(tp.sample(logits, {}));
  EXPECT_EQ(seen, (std::set<TokenId>{1}));
}

// Over a real-sized vocabulary the sampler sorts only the prefix it needs: what it keeps must be
// exactly what a full sort keeps, and it must sample in proportion to the probabilities.
TEST(Sampler, LargeVocabularyFiltersMatchAFullSort) {
  const int64_t n = 4000;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(n);
  for (auto& l : logits) l = normal(rng);
  logits[123] = 8.0f;  // one clear favourite
  struct Case {
    int top_k;
    float top_p, min_p;
  };
  for (Case c : {Case{0, 0.9f, 0.0f}, Case{0, 0.5f, 0.0f}, Case{0, 1.0f, 0.01f}, Case{0, 0.95f, 0.001f},
                 Case{500, 0.9f, 0.0f}, Case{0, 1.0f, 0.0f}}) {
    // The reference: sort everything, softmax, min_p then top_p on the sorted order.
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    int64_t k = c.top_k > 0 ? c.top_k : n;
    double sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += std::exp(logits[order[i]] - logits[order[0]]);
    std::vector<double> prob(k);
    for (int64_t i = 0; i < k; ++i) prob[i] = std::exp(logits[order[i]] - logits[order[0]]) / sum;
    if (c.min_p > 0) {
      int64_t keep = 1;
      while (keep < k && prob[keep] >= prob[0] * c.min_p) ++keep;
      k = keep;
    }
    if (c.top_p < 1) {
      double cumulative = 0;
      int64_t keep = 0;
      while (keep < k) {
        cumulative += prob[keep++];
        if (cumulative >= c.top_p) break;
      }
      k = keep;
    }
    std::set<TokenId> allowed(order.begin(), order.begin() + k);
    double kept_mass = 0;
    for (int64_t i = 0; i < k; ++i) kept_mass += prob[i];

    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.seed = 11;
    Sampler s(p, n);
    const int draws = 1500;
    int favourite = 0;
    for (int i = 0; i < draws; ++i) {
      TokenId t = s.sample(logits, {});
      ASSERT_TRUE(allowed.count(t)) << "token " << t << " is outside the kept set (case top_k " << c.top_k
                                    << ", top_p " << c.top_p << ", min_p " << c.min_p << ")";
      favourite += t == 123;
    }
    // The favourite's share follows its renormalised probability (within 5 standard deviations).
    const double expected = prob[0] / kept_mass;
    const double sigma = std::sqrt(expected * (1 - expected) / draws);
    EXPECT_NEAR(static_cast<double>(favourite) / draws, expected, 5 * sigma + 1e-3)
        << "case top_k " << c.top_k << ", top_p " << c.top_p << ", min_p " << c.min_p;
  }
}

TEST(Quantize, WholeModelFollowsTheSchemeAndStaysClose) {
  TempDir dir;
  testing::TinyModelSpec spec;
  spec.n_embd = 256;
  spec.n_head = 4;
  spec.n_head_kv = 2;
  spec.n_ff = 512;
  spec.n_layer = 8;
  spec.output_scale = 6;
  testing::write_tiny_model(spec, dir.file("f32.gguf"));
  for (const char* scheme : {"Q8_0", "Q4_0", "Q4_K_M", "F16"}) {
    std::string out = dir.file(std::string(scheme) + ".gguf");
    auto report = quantize_model(dir.file("f32.gguf"), out, scheme, 2);
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    EXPECT_LT(report->bytes_out, report->bytes_in);
    auto f = GgufFile::open(out);
    ASSERT_TRUE(f.ok());
    const std::string s = scheme;
    if (s == "Q4_K_M") {
      EXPECT_EQ(f.value()->tensor("output.weight")->type, TensorType::q6_k);
      EXPECT_EQ(f.value()->tensor("blk.0.attn_v.weight")->type, TensorType::q6_k);   // first eighth
      EXPECT_EQ(f.value()->tensor("blk.1.attn_v.weight")->type, TensorType::q4_k);
      EXPECT_EQ(f.value()->tensor("blk.3.ffn_down.weight")->type, TensorType::q6_k);  // (3-1)%3==2
      EXPECT_EQ(f.value()->tensor("blk.7.ffn_down.weight")->type, TensorType::q6_k);  // last eighth
      EXPECT_EQ(f.value()->tensor("blk.2.attn_q.weight")->type, TensorType::q4_k);
      EXPECT_EQ(*f.value()->get_uint("general.file_type"), 15u);
    }
    EXPECT_EQ(f.value()->tensor("blk.0.attn_norm.weight")->type, TensorType::f32);
  }
  // Greedy choices survive 8-bit and 4-bit quantization of a confident model.
  auto first_tokens = [&](const std::string& file) {
    auto model = Model::load(file);
    EXPECT_TRUE(model.ok());
    auto context = Context::create(**model, {});
    auto seq = (*context)->add_sequence();
    GenerateOptions g;
    g.max_tokens = 4;
    g.sampling.temperature = 0;
    g.ignore_eos = true;
    return generate(**context, *seq, (*model)->tokenizer().encode("the cat", true, false), g)->tokens;
  };
  auto reference = first_tokens(dir.file("f32.gguf"));
  EXPECT_EQ(first_tokens(dir.file("F16.gguf")), reference);
  EXPECT_EQ(first_tokens(dir.file("Q8_0.gguf")), reference);
  EXPECT_FALSE(quantize_model(dir.file("f32.gguf"), dir.file("x.gguf"), "Q3_XL", 1).ok());
  EXPECT_FALSE(quantize_model(dir.file("f32.gguf"), dir.file("f32.gguf"), "Q8_0", 1).ok());
}

TEST(MemoryFit, RefusesWithNumbersAndFallsBack) {
  TempDir dir;
  testing::TinyModelSpec big;
  big.n_embd = 256;
  big.n_ff = 1024;
  big.n_layer = 4;
  testing::write_tiny_model(big, dir.file("big.gguf"));
  testing::write_tiny_model({}, dir.file("small.gguf"));
  ContextOptions options;
  options.n_ctx = 256;
  auto big_estimate = estimate_model_memory(dir.file("big.gguf"), options);
  auto small_estimate = estimate_model_memory(dir.file("small.gguf"), options);
  ASSERT_TRUE(big_estimate.ok() && small_estimate.ok());
  EXPECT_GT(big_estimate->weight_bytes, small_estimate->weight_bytes);
  EXPECT_GT(big_estimate->kv_cache_bytes, 0u);
  // A budget between the two: the first candidate is refused, the fallback chosen.
  int64_t budget_mb = static_cast<int64_t>((big_estimate->total() + small_estimate->total()) / 2 / 1048576) + 1;
  if (budget_mb * 1048576 >= static_cast<int64_t>(big_estimate->total())) {
    budget_mb = static_cast<int64_t>(big_estimate->total() / 1048576);
  }
  std::vector<ModelCandidate> candidates = {{"main", dir.file("big.gguf"), budget_mb},
                                            {"small", dir.file("small.gguf"), budget_mb}};
  auto decision = choose_model(candidates, options);
  ASSERT_TRUE(decision.ok()) << decision.status().to_string();
  EXPECT_EQ(decision->chosen.id, "small");
  EXPECT_TRUE(decision->fell_back);
  ASSERT_EQ(decision->log.size(), 2u);
  EXPECT_NE(decision->log[0].find("does not fit"), std::string::npos);
  auto none = choose_model({{"main", dir.file("big.gguf"), 0}}, options);
  EXPECT_EQ(none.status().code(), StatusCode::resource_exhausted);
  EXPECT_NE(none.status().message().find("MiB"), std::string::npos);
  EXPECT_GT(read_memory_budget().mem_available_bytes, 0u);
  // A file that cannot be read is not a memory problem.
  auto missing = choose_model({{"main", dir.file("absent.gguf"), std::nullopt}}, options);
  EXPECT_EQ(missing.status().code(), StatusCode::not_found) << missing.status().to_string();
  EXPECT_EQ(missing.status().message().find("memory budget"), std::string::npos);
  EXPECT_NE(missing.status().message().find("absent.gguf"), std::string::npos);
  // One readable candidate that does not fit: the budget is the reason again.
  auto mixed = choose_model({{"gone", dir.file("absent.gguf"), 0}, {"main", dir.file("big.gguf"), 0}}, options);
  EXPECT_EQ(mixed.status().code(), StatusCode::resource_exhausted);
}

TEST(CheckModel, PassesAModelAndSaysWhyOthersFail) {
  TempDir dir;
  testing::write_tiny_model({}, dir.file("m.gguf"));
  std::vector<std::string> stages;
  auto check = check_model(dir.file("m.gguf"), [&](const std::string& stage, uint64_t, uint64_t) { stages.push_back(stage); });
  ASSERT_TRUE(check.ok()) << check.status().to_string();
  EXPECT_TRUE(check->passed) << check->detail;
  EXPECT_EQ(check->architecture, "llama");
  EXPECT_EQ(check->sha256.size(), 64u);
  EXPECT_EQ(stages.front(), "hashing");
  EXPECT_EQ(stages.back(), "self-test");
  // A file that is not a GGUF is refused before it is hashed (no result to record).
  keel::testing::write_file(dir.file("junk.gguf"), "not a model at all");
  auto junk = check_model(dir.file("junk.gguf"), [&](const std::string& stage, uint64_t, uint64_t) {
    ADD_FAILURE() << "a file that is not a GGUF was " << stage;
  });
  EXPECT_EQ(junk.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(junk.status().message().find("not a GGUF file"), std::string::npos) << junk.status().to_string();
  // Neither a FIFO (which would block) nor a device (which never ends) is read.
  ASSERT_EQ(mkfifo(dir.file("fifo.gguf").c_str(), 0600), 0);
  EXPECT_EQ(check_model(dir.file("fifo.gguf")).status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(check_model("/dev/zero").status().code(), StatusCode::invalid_argument);
}

TEST(CheckModel, FailsDegenerateWeightsAndNonFiniteHyperparameters) {
  TempDir dir;
  testing::TinyModelSpec zero;
  zero.weight_scale = 0;
  zero.output_scale = 0;  // every logit 0
  testing::write_tiny_model(zero, dir.file("zero.gguf"));
  auto zeros = check_model(dir.file("zero.gguf"));
  ASSERT_TRUE(zeros.ok()) << zeros.status().to_string();
  EXPECT_FALSE(zeros->passed);
  EXPECT_NE(zeros->detail.find("degenerate"), std::string::npos) << zeros->detail;

  testing::TinyModelSpec infinite;
  infinite.rms_norm_eps = std::numeric_limits<float>::infinity();
  testing::write_tiny_model(infinite, dir.file("inf.gguf"));
  auto inf = check_model(dir.file("inf.gguf"));
  ASSERT_TRUE(inf.ok()) << inf.status().to_string();
  EXPECT_FALSE(inf->passed);
  EXPECT_NE(inf->detail.find("layer_norm_rms_epsilon"), std::string::npos) << inf->detail;
  EXPECT_EQ(Model::load(dir.file("inf.gguf")).status().code(), StatusCode::invalid_argument);
}

TEST(ComputePool, RunsEveryThreadEveryTimeAndSurvivesSleeping) {
  ComputePool pool(3);
  std::atomic<int> total{0};
  auto job = [&](int i, int n) {
    EXPECT_EQ(n, 3);
    total += i + 1;
  };
  for (int k = 0; k < 2000; ++k) pool.run(job);
  EXPECT_EQ(total.load(), 2000 * 6);
  // Idle workers spin a while, then park; the next job must wake them.
  ASSERT_TRUE(keel::testing::poll_until([&] { return pool.sleeping_workers() == 2; }, 30000, 1))
      << pool.sleeping_workers() << " of 2 workers parked";
  pool.run(job);
  EXPECT_EQ(total.load(), 2001 * 6);
  int64_t b, e;
  ComputePool::split(100, 0, 3, 16, &b, &e);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 48);
  ComputePool::split(100, 2, 3, 16, &b, &e);
  EXPECT_EQ(e, 100);
}

// Matmul hands rows out from a shared counter in shrinking chunks: whatever the thread count, the
// number of matrices in one run and their (uneven) row counts, every row of every output is
// computed once and equals the kernel's own product.
TEST(Matmul, EveryRowOfEveryTaskOnceWhateverTheThreads) {
  const int64_t cols = 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Matrix {
    std::vector<uint8_t> bytes;
    WeightMatrix w;
  };
  auto make = [&](TensorType type, int64_t rows) {
    Matrix m;
    m.w.type = type;
    m.w.rows = rows;
    m.w.cols = cols;
    m.w.row_bytes = *row_bytes(type, cols);
    m.bytes.resize(m.w.row_bytes * rows);
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = normal(rng);
      quantize_row(type, row.data(), m.bytes.data() + r * m.w.row_bytes, cols);
    }
    m.w.data = m.bytes.data();
    return m;
  };
  Matrix a = make(TensorType::q4_0, 1000), b = make(TensorType::q8_0, 37), c = make(TensorType::f16, 5);
  for (int64_t tokens : {1, 3, 9}) {
    std::vector<float> x(tokens * cols);
    for (auto& v : x) v = normal(rng);
    // Expected: each matrix alone, on one thread.
    std::vector<float> want_a(tokens * 1000), want_b(tokens * 37), want_c(tokens * 5);
    {
      ComputePool one(1);
      Matmul alone(one, 16, cols);
      alone.run({{&a.w, want_a.data(), 1000}}, x.data(), tokens, cols);
      alone.run({{&b.w, want_b.data(), 37}}, x.data(), tokens, cols);
      alone.run({{&c.w, want_c.data(), 5}}, x.data(), tokens, cols);
    }
    for (int threads : {1, 2, 3, 5}) {
      SCOPED_TRACE("tokens " + std::to_string(tokens) + ", threads " + std::to_string(threads));
      ComputePool pool(threads);
      Matmul matmul(pool, 16, cols);
      const float kUnset = -12345.0f;
      std::vector<float> got_a(tokens * 1000, kUnset), got_b(tokens * 37, kUnset), got_c(tokens * 5, kUnset);
      for (int repeat = 0; repeat < 20; ++repeat) {
        matmul.run({{&a.w, got_a.data(), 1000}, {&b.w, got_b.data(), 37}, {&c.w, got_c.data(), 5}}, x.data(),
                   tokens, cols);
        ASSERT_EQ(got_a, want_a);
        ASSERT_EQ(got_b, want_b);
        ASSERT_EQ(got_c, want_c);
        std::fill(got_a.begin(), got_a.end(), kUnset);
        std::fill(got_b.begin(), got_b.end(), kUnset);
        std::fill(got_c.begin(), got_c.end(), kUnset);
      }
    }
  }
}

}  // namespace
}  // namespace keel::engine
