// Generation on a tiny model: limits, stop strings, streaming, cancellation and seeded sampling.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

TEST(Generate, StopsAtLimitsStopStringsAndCancellation) {
  TempDir dir;
  testing::TinyModelSpec spec;
  spec.output_scale = 4;
  auto model = testing::write_and_load_tiny_model(spec, dir.file("tiny.gguf"));
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
  auto model = testing::write_and_load_tiny_model({}, dir.file("tiny.gguf"));
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

}  // namespace
}  // namespace keel::engine
