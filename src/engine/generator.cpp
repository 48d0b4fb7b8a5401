#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "engine/text_stream.h"

namespace keel::engine {

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::end_of_generation: return "eos";
    case FinishReason::context_full: return "context_full";
    case FinishReason::cancelled: return "cancelled";
  }
  return "?";
}

Status prefill(Context& context, int32_t seq, std::span<const TokenId> tokens) {
  const int64_t chunk = context.options().n_batch;
  int64_t pos = context.sequence_length(seq);
  std::vector<BatchToken> batch;
  batch.reserve(chunk);
  for (size_t start = 0; start < tokens.size(); start += chunk) {
    size_t end = std::min(tokens.size(), start + static_cast<size_t>(chunk));
    batch.clear();
    for (size_t i = start; i < end; ++i) {
      batch.push_back({tokens[i], seq, pos++, i + 1 == tokens.size()});
    }
    KEEL_RETURN_IF_ERROR(context.decode(batch));
  }
  return Status();
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, TokenId chosen, int n) {
  float max = logits[0];
  for (float l : logits) max = std::max(max, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  const float log_sum = static_cast<float>(std::log(sum)) + max;
  std::vector<TokenLogprob> best;
  best.push_back({chosen, logits[chosen] - log_sum});
  std::vector<TokenLogprob> top;
  for (size_t i = 0; i < logits.size(); ++i) {
    TokenLogprob c{static_cast<TokenId>(i), logits[i] - log_sum};
    if (static_cast<int>(top.size()) < n) {
      top.push_back(c);
    } else if (c.logprob > top.back().logprob) {
      top.back() = c;
    } else {
      continue;
    }
    for (size_t j = top.size() - 1; j > 0 && top[j].logprob > top[j - 1].logprob; --j) {
      std::swap(top[j], top[j - 1]);
    }
  }
  best.insert(best.end(), top.begin(), top.end());
  return best;
}

Result<GenerationResult> generate(Context& context, int32_t seq, std::span<const TokenId> prompt,
                                  const GenerateOptions& options,
                                  const std::function<bool(std::string_view)>& on_text) {
  if (prompt.empty()) return Status::invalid_argument("the prompt has no tokens");
  for (const auto& s : options.stop) {
    if (s.empty()) return Status::invalid_argument("stop strings must not be empty");
  }
  const Tokenizer& tokenizer = context.model().tokenizer();
  const int64_t n_ctx = context.options().n_ctx;
  if (context.sequence_length(seq) + static_cast<int64_t>(prompt.size()) > n_ctx) {
    return Status::invalid_argument(fmt::format("the prompt has {} tokens; the context holds {}",
                                                prompt.size(), n_ctx));
  }
  GenerationResult result;
  result.timings.prompt_tokens = static_cast<int64_t>(prompt.size());
  const int64_t start_ns = monotonic_now_ns();
  KEEL_RETURN_IF_ERROR(prefill(context, seq, prompt));
  result.timings.prompt_ms = (monotonic_now_ns() - start_ns) / 1e6;

  Sampler sampler(options.sampling, context.model().config().n_vocab);
  std::vector<TokenId> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + options.max_tokens);
  result.tokens.reserve(options.max_tokens);
  TextStream stream(options.stop);
  int64_t first_token_ns = 0;
  result.finish = FinishReason::length;
  bool cancelled = false;
  auto deliver = [&](std::string_view text) {
    if (!text.empty() && on_text && !cancelled && !on_text(text)) cancelled = true;
  };

  for (int64_t i = 0; i < options.max_tokens; ++i) {
    TokenId token = sampler.sample(context.logits(0), history);
    if (options.top_logprobs > 0) {
      result.logprobs.push_back(top_logprobs(context.logits(0), token, options.top_logprobs));
    }
    if (i == 0) {
      first_token_ns = monotonic_now_ns();
      result.timings.ttft_ms = (first_token_ns - start_ns) / 1e6;
    }
    if (!options.ignore_eos && tokenizer.is_end_of_generation(token)) {
      result.finish = FinishReason::end_of_generation;
      break;
    }
    result.tokens.push_back(token);
    history.push_back(token);
    deliver(stream.append(tokenizer.token_to_piece(token)));
    if (cancelled) {
      result.finish = FinishReason::cancelled;
      break;
    }
    if (stream.stopped()) {
      result.finish = FinishReason::stop;
      break;
    }
    if (i + 1 == options.max_tokens) break;
    if (context.sequence_length(seq) >= n_ctx) {
      result.finish = FinishReason::context_full;
      break;
    }
    BatchToken next{token, seq, context.sequence_length(seq), true};
    KEEL_RETURN_IF_ERROR(context.decode(std::span<const BatchToken>(&next, 1)));
  }
  if (result.finish != FinishReason::cancelled) deliver(stream.flush());
  result.text = stream.text();
  const int64_t end_ns = monotonic_now_ns();
  auto& t = result.timings;
  t.generated_tokens = static_cast<int64_t>(result.tokens.size());
  t.generation_ms = first_token_ns ? (end_ns - first_token_ns) / 1e6 : 0;
  t.tpot_ms = t.generated_tokens > 1 ? t.generation_ms / (t.generated_tokens - 1) : 0;
  t.prompt_tokens_per_s = t.prompt_ms > 0 ? t.prompt_tokens / (t.prompt_ms / 1e3) : 0;
  t.gen_tokens_per_s = t.generation_ms > 0 && t.generated_tokens > 1
                           ? (t.generated_tokens - 1) / (t.generation_ms / 1e3)
                           : 0;
  return result;
}

}  // namespace keel::engine
