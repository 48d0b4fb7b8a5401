// Choosing the next token from logits: greedy, or temperature with top-k, top-p and min-p
// filters, after repetition, frequency and presence penalties over recent tokens.
//
// Contract:
// - temperature <= 0 is greedy: the highest logit wins (lowest id on ties), deterministic.
// - With temperature > 0 the choice is reproducible for a given seed and history.
// - sample() allocates nothing (buffers are sized to the vocabulary at construction).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/vocab.h"

namespace keel::engine {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;          //!< <= 0: off
  float top_p = 0.95f;     //!< >= 1: off
  float min_p = 0.05f;     //!< <= 0: off
  float repeat_penalty = 1.0f;  //!< 1: off
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t n_vocab);

  //! history: tokens the penalties look at (prompt and generated so far).
  TokenId sample(std::span<const float> logits, std::span<const TokenId> history);
  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    TokenId id;
    float logit;
  };
  // The steps of sample(), in order, over the first n entries of the buffers. Candidates [0, k)
  // survive the filters; [0, sorted) of them are in decreasing logit order.
  void apply_penalties(int64_t n, std::span<const TokenId> history);
  TokenId argmax(int64_t n) const;
  void keep_top_k(int64_t n, int64_t* k, int64_t* sorted);
  double softmax_weights(int64_t k);
  void keep_min_p(double sum, int64_t* k, int64_t* sorted);
  void keep_top_p(double sum, int64_t* k, int64_t* sorted);
  TokenId draw(double sum, int64_t k);
  float probability(const Candidate& c, double sum) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
  std::vector<float> adjusted_;
  std::vector<int32_t> counts_;
};

}  // namespace keel::engine
