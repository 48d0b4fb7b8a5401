// Text generation on one sequence of a Context: prefill the prompt in chunks, then sample and
// decode token by token, streaming text as it becomes final.
//
// Contract:
// - Streamed text is valid UTF-8 and never contains (the start of) a stop string: text that
//   could still become a stop string is held back until it cannot.
// - Stops at max_tokens, at a stop string (excluded from the text), at an end-of-generation
//   token (unless ignore_eos), when the context is full, or when on_text returns false.
// - Timings: ttft_ms from the call to the first sampled token; tpot_ms is the mean time per
//   generated token after the first.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/context.h"
#include "engine/sampler.h"

namespace keel::engine {

struct GenerateOptions {
  int64_t max_tokens = 64;
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  int top_logprobs = 0;  //!< record the n most likely tokens' log-probabilities at each step
};

struct TokenLogprob {
  TokenId token;
  float logprob;
};

enum class FinishReason { length, stop, end_of_generation, context_full, cancelled };
std::string_view finish_reason_name(FinishReason r);

struct GenerationTimings {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prompt_ms = 0;      //!< prefill time
  double ttft_ms = 0;
  double generation_ms = 0;  //!< from the first sampled token to the last
  double tpot_ms = 0;
  double prompt_tokens_per_s = 0;
  double gen_tokens_per_s = 0;
};

struct GenerationResult {
  std::vector<TokenId> tokens;
  std::string text;
  FinishReason finish = FinishReason::length;
  GenerationTimings timings;
  //! Per generated token (when top_logprobs > 0): the chosen token's log-probability first,
  //! then the top_logprobs most likely tokens, best first.
  std::vector<std::vector<TokenLogprob>> logprobs;
};

//! Log-softmax of the raw logits: the chosen token and the n most likely ones.
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, TokenId chosen, int n);

//! Generates on `seq`, which must be empty or hold exactly the tokens before `prompt`.
[[nodiscard]] Result<GenerationResult> generate(
    Context& context, int32_t seq, std::span<const TokenId> prompt, const GenerateOptions& options,
    const std::function<bool(std::string_view)>& on_text = {});

//! Feeds `tokens` to the sequence in chunks of the context's batch size; keeps logits of the
//! last one.
[[nodiscard]] Status prefill(Context& context, int32_t seq, std::span<const TokenId> tokens);

}  // namespace keel::engine
