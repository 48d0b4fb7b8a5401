// Sampling: greedy choice, penalties, and the top-k, min-p and top-p filters against a full sort.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "engine/sampler.h"

namespace keel::engine {
namespace {

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

}  // namespace
}  // namespace keel::engine
