#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace keel::engine {

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab)
    : params_(params), rng_(params.seed), candidates_(n_vocab), adjusted_(n_vocab), counts_(n_vocab, 0) {}

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  const int64_t n = static_cast<int64_t>(logits.size());
  std::copy(logits.begin(), logits.end(), adjusted_.begin());

  const bool penalize = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                        params_.presence_penalty != 0.0f;
  if (penalize && params_.repeat_last_n != 0) {
    size_t window = params_.repeat_last_n < 0 ? history.size()
                                              : std::min<size_t>(history.size(), params_.repeat_last_n);
    auto recent = history.subspan(history.size() - window);
    for (TokenId t : recent) {
      if (t >= 0 && t < n) ++counts_[t];
    }
    for (TokenId t : recent) {
      if (t < 0 || t >= n || counts_[t] == 0) continue;
      float& l = adjusted_[t];
      if (params_.repeat_penalty != 1.0f) {
        l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
      }
      l -= counts_[t] * params_.frequency_penalty + params_.presence_penalty;
      counts_[t] = 0;  // each distinct token is penalised once
    }
  }

  if (params_.temperature <= 0.0f) {
    TokenId best = 0;
    for (int64_t i = 1; i < n; ++i) {
      if (adjusted_[i] > adjusted_[best]) best = static_cast<TokenId>(i);
    }
    return best;
  }

  for (int64_t i = 0; i < n; ++i) candidates_[i] = {static_cast<TokenId>(i), adjusted_[i]};
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  int64_t k = n;
  if (params_.top_k > 0 && params_.top_k < n) {
    k = params_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Softmax of the survivors at this temperature.
  const float max_logit = candidates_[0].logit;
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    float p = std::exp((candidates_[i].logit - max_logit) / params_.temperature);
    adjusted_[i] = p;  // reuse as probabilities, in candidate order
    sum += p;
  }
  for (int64_t i = 0; i < k; ++i) adjusted_[i] = static_cast<float>(adjusted_[i] / sum);
  if (params_.min_p > 0.0f) {
    const float floor = adjusted_[0] * params_.min_p;
    int64_t keep = 1;
    while (keep < k && adjusted_[keep] >= floor) ++keep;
    k = keep;
  }
  if (params_.top_p < 1.0f) {
    double cumulative = 0;
    int64_t keep = 0;
    while (keep < k) {
      cumulative += adjusted_[keep++];
      if (cumulative >= params_.top_p) break;
    }
    k = std::max<int64_t>(1, keep);
  }
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += adjusted_[i];
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (int64_t i = 0; i < k; ++i) {
    r -= adjusted_[i];
    if (r <= 0) return candidates_[i].id;
  }
  return candidates_[k - 1].id;
}

}  // namespace keel::engine
