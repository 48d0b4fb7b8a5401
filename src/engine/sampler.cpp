#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace keel::engine {

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab)
    : params_(params), rng_(params.seed), candidates_(n_vocab), adjusted_(n_vocab), counts_(n_vocab, 0) {}

namespace {

// Decreasing logit; the lower id first on ties.
constexpr auto by_logit = [](const auto& a, const auto& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
};

}  // namespace

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  const int64_t n = static_cast<int64_t>(logits.size());
  std::copy(logits.begin(), logits.end(), adjusted_.begin());
  apply_penalties(n, history);
  if (params_.temperature <= 0.0f) return argmax(n);

  for (int64_t i = 0; i < n; ++i) candidates_[i] = {static_cast<TokenId>(i), adjusted_[i]};
  // The whole vocabulary is never sorted unless top-p needs it: a sort per token costs more
  // than the forward pass of a small model.
  int64_t k = n, sorted = 0;
  keep_top_k(n, &k, &sorted);
  const double sum = softmax_weights(k);
  if (params_.min_p > 0.0f) keep_min_p(sum, &k, &sorted);
  if (params_.top_p < 1.0f) keep_top_p(sum, &k, &sorted);
  return draw(sum, k);
}

void Sampler::apply_penalties(int64_t n, std::span<const TokenId> history) {
  const bool penalize = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                        params_.presence_penalty != 0.0f;
  if (!penalize || params_.repeat_last_n == 0) return;
  size_t window = params_.repeat_last_n < 0
                      ? history.size()
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

TokenId Sampler::argmax(int64_t n) const {
  TokenId best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (adjusted_[i] > adjusted_[best]) best = static_cast<TokenId>(i);
  }
  return best;
}

void Sampler::keep_top_k(int64_t n, int64_t* k, int64_t* sorted) {
  if (params_.top_k > 0 && params_.top_k < n) {
    *k = *sorted = params_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + *k, candidates_.end(), by_logit);
  }
}

// Softmax of the survivors at this temperature; adjusted_ (free now: candidates_ hold the
// logits) keeps each survivor's weight by token id, so every exp is computed once. Returns the
// sum of the weights.
double Sampler::softmax_weights(int64_t k) {
  float max_logit = candidates_[0].logit;
  for (int64_t i = 1; i < k; ++i) max_logit = std::max(max_logit, candidates_[i].logit);
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    const float weight = std::exp((candidates_[i].logit - max_logit) / params_.temperature);
    adjusted_[candidates_[i].id] = weight;
    sum += weight;
  }
  return sum;
}

float Sampler::probability(const Candidate& c, double sum) const {
  return static_cast<float>(adjusted_[c.id] / sum);
}

// Keep what is at least min_p times as likely as the most likely token.
void Sampler::keep_min_p(double sum, int64_t* k, int64_t* sorted) {
  const float floor = static_cast<float>(1.0 / sum) * params_.min_p;
  auto end = std::partition(candidates_.begin(), candidates_.begin() + *k,
                            [&](const Candidate& c) { return probability(c, sum) >= floor; });
  *k = std::max<int64_t>(1, end - candidates_.begin());
  if (*sorted > 0) std::sort(candidates_.begin(), candidates_.begin() + *k, by_logit);
  *sorted = *sorted > 0 ? *k : 0;
}

// The smallest most-likely prefix whose probability reaches top_p: sort a growing prefix until
// it does.
void Sampler::keep_top_p(double sum, int64_t* k, int64_t* sorted) {
  double cumulative = 0;
  int64_t keep = 0;
  for (;;) {
    for (; keep < *sorted; ++keep) {
      if (cumulative >= params_.top_p) break;
      cumulative += probability(candidates_[keep], sum);
    }
    if (cumulative >= params_.top_p || *sorted == *k) break;
    const int64_t grow = std::min(*k, std::max<int64_t>(64, 4 * *sorted));
    std::partial_sort(candidates_.begin() + *sorted, candidates_.begin() + grow,
                      candidates_.begin() + *k, by_logit);
    *sorted = grow;
  }
  *k = std::max<int64_t>(1, keep);
}

TokenId Sampler::draw(double sum, int64_t k) {
  double total = 0;
  for (int64_t i = 0; i < k; ++i) total += probability(candidates_[i], sum);
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (int64_t i = 0; i < k; ++i) {
    r -= probability(candidates_[i], sum);
    if (r <= 0) return candidates_[i].id;
  }
  return candidates_[k - 1].id;
}

}  // namespace keel::engine
