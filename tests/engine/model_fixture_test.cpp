// The engine against llama.cpp: greedy continuations and log-probabilities on the shared
// fixture models (written or converted by llama.cpp), and the dequantized weights of one random
// model in three quantizations agreeing with each other.
#include <gtest/gtest.h>

#include <cmath>

#include "core/json.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/quants.h"
#include "support/test_support.h"

namespace keel::engine {
namespace {

std::string fixture(const std::string& name) {
  auto dir = testing::fixtures_dir();
  return dir ? *dir + "/" + name : std::string();
}

#define REQUIRE_FIXTURES()                                                  \
  if (!testing::fixtures_dir()) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine")

Json load_json(const std::string& path) {
  auto j = parse_json(testing::read_file(path));
  EXPECT_TRUE(j.ok());
  return j.ok() ? *j : Json();
}

struct GreedyRun {
  std::vector<TokenId> prompt;
  GenerationResult result;
};

GreedyRun greedy(const std::string& model_path, const std::string& prompt_text, int n,
                 ContextOptions options = {}, int top_logprobs = 3) {
  auto model = Model::load(model_path);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  options.n_ctx = std::max<int64_t>(options.n_ctx, 256);
  auto context = Context::create(**model, options);
  EXPECT_TRUE(context.ok());
  auto seq = (*context)->add_sequence();
  GreedyRun run;
  run.prompt = (*model)->tokenizer().encode(prompt_text, true, false);
  GenerateOptions g;
  g.max_tokens = n;
  g.sampling.temperature = 0;
  g.ignore_eos = true;
  g.top_logprobs = top_logprobs;
  auto result = generate(**context, *seq, run.prompt, g);
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  run.result = std::move(*result);
  return run;
}

TEST(LlamaCppReference, Stories260KGreedyMatchesAll64Tokens) {
  REQUIRE_FIXTURES();
  Json ref = load_json(fixture("llamacpp_ref_stories260K_greedy64.json"));
  GreedyRun run = greedy(fixture("stories260K.gguf"), "Once upon a time", 64);
  EXPECT_EQ(run.prompt, (std::vector<TokenId>{1, 403, 407, 261, 378}));
  EXPECT_EQ(run.result.tokens, ref["tokens"].get<std::vector<TokenId>>());
  EXPECT_EQ(run.result.text, ref["content"].get<std::string>());
  // Log-probabilities of the chosen tokens agree closely (F32 weights, F16 KV cache).
  const auto& probs = ref["completion_probabilities"];
  double worst = 0;
  for (size_t i = 0; i < run.result.logprobs.size(); ++i) {
    worst = std::max(worst, std::fabs(run.result.logprobs[i][0].logprob - probs[i]["logprob"].get<double>()));
  }
  EXPECT_LT(worst, 0.01) << "largest log-probability difference";
}

TEST(LlamaCppReference, SmallRandomQ8_0MatchesUntilTheHistoriesPart) {
  REQUIRE_FIXTURES();
  Json ref = load_json(fixture("llamacpp_ref_small-random-Q8_0_greedy64.json"));
  GreedyRun run = greedy(fixture("small-random-288x6-Q8_0.gguf"), "Once upon a time", 64, {}, 10);
  EXPECT_EQ(run.prompt, (std::vector<TokenId>{1, 9038, 2501, 263, 931}));
  const auto& probs = ref["completion_probabilities"];
  auto ref_tokens = ref["tokens"].get<std::vector<TokenId>>();
  // This model's logits are nearly flat (median top-two margin 0.031 nats): two independent
  // implementations (8-bit activations, different summation order) agree to a few hundredths
  // of a nat, so ids must agree wherever the reference's margin exceeds that, and a step with
  // a smaller margin may go either way, after which the histories differ.
  constexpr double kTolerance = 0.03;
  size_t compared = 0;
  for (size_t i = 0; i < ref_tokens.size(); ++i) {
    const auto& top = probs[i]["top_logprobs"];
    for (const auto& candidate : top) {
      for (const auto& mine : run.result.logprobs[i]) {
        if (mine.token == candidate["id"].get<TokenId>()) {
          EXPECT_NEAR(mine.logprob, candidate["logprob"].get<double>(), kTolerance) << "step " << i;
        }
      }
    }
    ++compared;
    if (run.result.tokens[i] != ref_tokens[i]) {
      double margin = top[0]["logprob"].get<double>() - top[1]["logprob"].get<double>();
      EXPECT_LT(margin, 2 * kTolerance) << "step " << i << " differs with a clear margin";
      break;
    }
  }
  EXPECT_GE(compared, 3u);
}

TEST(LlamaCppReference, DequantizedWeightsAgreeAcrossQuantizations) {
  REQUIRE_FIXTURES();
  auto q8 = GgufFile::open(fixture("random-gqa-256x4-Q8_0.gguf"));
  auto q4 = GgufFile::open(fixture("random-gqa-256x4-Q4_0.gguf"));
  auto q4km = GgufFile::open(fixture("random-gqa-256x4-Q4_K_M.gguf"));
  ASSERT_TRUE(q8.ok() && q4.ok() && q4km.ok());
  std::map<TensorType, double> worst;
  for (const auto& t : (*q8)->tensors()) {
    if (t.dims.size() < 2) continue;
    for (const GgufFile* other : {q4->get(), q4km->get()}) {
      const GgufTensor* o = other->tensor(t.name);
      ASSERT_NE(o, nullptr) << t.name;
      const uint64_t cols = t.dims[0], rows = t.rows();
      std::vector<float> a(cols), b(cols);
      double err = 0, ref = 0;
      for (uint64_t r = 0; r < rows; ++r) {
        dequantize_row(t.type, t.data + r * (t.n_bytes / rows), a.data(), cols);
        dequantize_row(o->type, o->data + r * (o->n_bytes / rows), b.data(), cols);
        for (uint64_t i = 0; i < cols; ++i) {
          err += (a[i] - b[i]) * (a[i] - b[i]);
          ref += a[i] * a[i];
        }
      }
      worst[o->type] = std::max(worst[o->type], std::sqrt(err / ref));
    }
  }
  // A wrong block layout would give errors near 1.4 (uncorrelated); these are quantization noise.
  EXPECT_LT(worst[TensorType::q4_0], 0.10);
  EXPECT_LT(worst[TensorType::q4_k], 0.09);
  EXPECT_LT(worst[TensorType::q6_k], 0.03);
  EXPECT_EQ(worst.size(), 3u);
}

TEST(Context, BatchSizeAndKernelsDoNotChangeTheResult) {
  REQUIRE_FIXTURES();
  ContextOptions one_by_one;
  one_by_one.n_batch = 1;
  GreedyRun a = greedy(fixture("random-qwen2-64x3-Q8_0.gguf"), "Hello there, world", 8);
  GreedyRun b = greedy(fixture("random-qwen2-64x3-Q8_0.gguf"), "Hello there, world", 8, one_by_one);
  EXPECT_EQ(a.result.tokens, b.result.tokens);
  for (size_t i = 0; i < a.result.logprobs.size(); ++i) {
    EXPECT_NEAR(a.result.logprobs[i][0].logprob, b.result.logprobs[i][0].logprob, 1e-4);
  }
}

TEST(Context, SequencesInOneBatchEqualSequencesAlone) {
  REQUIRE_FIXTURES();
  auto model = Model::load(fixture("random-gqa-256x4-Q4_K_M.gguf"));
  ASSERT_TRUE(model.ok());
  ContextOptions options;
  options.n_seq_max = 2;
  options.n_ctx = 64;
  auto context = Context::create(**model, options);
  ASSERT_TRUE(context.ok());
  std::vector<TokenId> p1 = {1, 450, 4996, 17354}, p2 = {1, 1724, 338, 263, 1243, 310};
  // Alone.
  auto logits_alone = [&](const std::vector<TokenId>& p) {
    auto s = (*context)->add_sequence();
    EXPECT_TRUE(prefill(**context, *s, p).ok());
    auto l = (*context)->logits(0);
    std::vector<float> copy(l.begin(), l.end());
    (*context)->remove_sequence(*s);
    return copy;
  };
  auto l1 = logits_alone(p1), l2 = logits_alone(p2);
  // Together, interleaved in one batch.
  auto s1 = (*context)->add_sequence(), s2 = (*context)->add_sequence();
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < std::max(p1.size(), p2.size()); ++i) {
    if (i < p1.size()) batch.push_back({p1[i], *s1, static_cast<int64_t>(i), i + 1 == p1.size()});
    if (i < p2.size()) batch.push_back({p2[i], *s2, static_cast<int64_t>(i), i + 1 == p2.size()});
  }
  ASSERT_TRUE((*context)->decode(batch).ok());
  auto t1 = (*context)->logits(0), t2 = (*context)->logits(1);
  for (size_t i = 0; i < l1.size(); ++i) {
    ASSERT_NEAR(t1[i], l1[i], 1e-4);
    ASSERT_NEAR(t2[i], l2[i], 1e-4);
  }
  (*context)->remove_sequence(*s1);
  (*context)->remove_sequence(*s2);
  EXPECT_EQ((*context)->kv_cache().free_blocks(), (*context)->kv_cache().n_blocks());
}

TEST(Context, BadBatchesAreRefusedWithoutChangingState) {
  REQUIRE_FIXTURES();
  auto model = Model::load(fixture("stories260K.gguf"));
  ASSERT_TRUE(model.ok());
  ContextOptions options;
  options.n_ctx = 32;
  options.n_batch = 8;
  auto context = Context::create(**model, options);
  ASSERT_TRUE(context.ok());
  auto seq = (*context)->add_sequence();
  ASSERT_TRUE(seq.ok());
  auto decode = [&](std::vector<BatchToken> b) { return (*context)->decode(b); };
  EXPECT_EQ(decode({{1, *seq, 1, true}}).code(), StatusCode::invalid_argument);   // skips pos 0
  EXPECT_EQ(decode({{9999, *seq, 0, true}}).code(), StatusCode::invalid_argument);  // bad token
  EXPECT_EQ(decode({{1, 5, 0, true}}).code(), StatusCode::invalid_argument);        // no such seq
  std::vector<BatchToken> too_many;
  for (int i = 0; i < 9; ++i) too_many.push_back({1, *seq, i, false});
  EXPECT_EQ(decode(too_many).code(), StatusCode::invalid_argument);
  EXPECT_EQ((*context)->sequence_length(*seq), 0);
  // Fill the context, then one more token is resource_exhausted.
  std::vector<TokenId> prompt(32, 300);
  EXPECT_TRUE(prefill(**context, *seq, prompt).ok());
  EXPECT_EQ(decode({{1, *seq, 32, true}}).code(), StatusCode::resource_exhausted);
  EXPECT_EQ((*context)->add_sequence().status().code(), StatusCode::resource_exhausted);
}

TEST(Context, Q8_0KvCacheStaysCloseToF16) {
  REQUIRE_FIXTURES();
  ContextOptions q8;
  q8.kv_type = KvCacheType::q8_0;
  // This model's output is scaled up (confident choices), which also magnifies the error of an
  // 8-bit cache on the log-probabilities; the choices themselves must not change.
  GreedyRun a = greedy(fixture("random-gqa-256x4-Q8_0.gguf"), "Once upon a time", 8);
  GreedyRun b = greedy(fixture("random-gqa-256x4-Q8_0.gguf"), "Once upon a time", 8, q8);
  EXPECT_EQ(a.result.tokens, b.result.tokens);
  for (size_t i = 0; i < a.result.logprobs.size(); ++i) {
    EXPECT_NEAR(a.result.logprobs[i][0].logprob, b.result.logprobs[i][0].logprob, 0.25) << i;
  }
  // Heads of 8 dimensions cannot be stored in 32-value Q8_0 blocks: refused, not truncated.
  auto tiny = Model::load(fixture("stories260K.gguf"));
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(Context::create(**tiny, q8).status().code(), StatusCode::invalid_argument);
}

}  // namespace
}  // namespace keel::engine
