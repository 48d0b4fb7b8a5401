// The BERT-family encoder (all-MiniLM, bge-small): absolute positions, post-norm blocks with
// LayerNorm, bidirectional attention and a GELU feed-forward network; pooled (mean or CLS) and
// L2-normalised into one embedding.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "engine/context.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/quants.h"

namespace keel::engine {

// Several token sequences packed one after another: `starts` holds each sequence's first index
// (and tokens.size() last); attention stays inside a sequence, positions restart at 0.
void Context::forward_bert(std::span<const TokenId> tokens, std::span<const int64_t> starts) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  bert_embed(tokens, starts);
  for (int64_t layer = 0; layer < model_.config().n_layer; ++layer) {
    bert_attention(layer, n);
    bert_feed_forward(layer, n);
  }
}

// Records each token's sequence range, then writes its input row into x_: token, position and
// segment embeddings, layer-normed.
void Context::bert_embed(std::span<const TokenId> tokens, std::span<const int64_t> starts) {
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t e = c.n_embd;
  float* tmp = ffn_b_.data();  // e floats per token, free at this point

  // Sequence index and range of each token.
  std::vector<int64_t>& seq_begin = bert_begin_;
  std::vector<int64_t>& seq_end = bert_end_;
  for (size_t s = 0; s + 1 < starts.size(); ++s) {
    for (int64_t t = starts[s]; t < starts[s + 1]; ++t) {
      seq_begin[t] = starts[s];
      seq_end[t] = starts[s + 1];
    }
  }
  for (int64_t t = 0; t < n; ++t) {
    float* x = x_.data() + t * e;
    const int64_t pos = t - seq_begin[t];
    dequantize_row(w.token_embd.type, w.token_embd.data + tokens[t] * w.token_embd.row_bytes, x, e);
    dequantize_row(w.position_embd.type, w.position_embd.data + pos * w.position_embd.row_bytes, tmp, e);
    add_inplace(x, tmp, e);
    if (w.token_types.present()) {  // every token is segment 0
      dequantize_row(w.token_types.type, w.token_types.data, tmp, e);
      add_inplace(x, tmp, e);
    }
    layer_norm(x, w.embd_norm.data(), w.embd_norm_bias.data(), x, e, c.norm_eps);
  }
}

// Bidirectional attention within each token's sequence, then the output projection, the
// residual and the post-norm: x_ in, xb_ out.
void Context::bert_attention(int64_t layer, int64_t n) {
  const ModelConfig& c = model_.config();
  const LayerWeights& l = model_.weights().layers[layer];
  const int64_t e = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), hd = c.head_dim;
  const std::vector<int64_t>& seq_begin = bert_begin_;
  const std::vector<int64_t>& seq_end = bert_end_;
  const KernelTable& kt = kernels();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t group = c.n_head / c.n_head_kv;
  matmul_.run({{&l.wq, q_.data(), static_cast<size_t>(qd)},
               {&l.wk, k_.data(), static_cast<size_t>(kvd)},
               {&l.wv, v_.data(), static_cast<size_t>(kvd)}},
              x_.data(), n, e);
  for (int64_t t = 0; t < n; ++t) {
    add_inplace(q_.data() + t * qd, l.bq.data(), qd);
    add_inplace(k_.data() + t * kvd, l.bk.data(), kvd);
    add_inplace(v_.data() + t * kvd, l.bv.data(), kvd);
  }
  auto job = [&](int thread, int n_threads) {
    int64_t begin, end;
    ComputePool::split(n * c.n_head, thread, n_threads, 1, &begin, &end);
    float* scores = scores_[thread].data();
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / c.n_head, h = item % c.n_head, kv_head = h / group;
      const float* q = q_.data() + t * qd + h * hd;
      const int64_t j0 = seq_begin[t], count = seq_end[t] - seq_begin[t];
      // The keys of one head are rows kvd floats apart: one matrix-vector product.
      kt.gemv(TensorType::f32, reinterpret_cast<const uint8_t*>(k_.data() + j0 * kvd + kv_head * hd),
              static_cast<size_t>(kvd) * sizeof(float), q, scores, hd, count);
      for (int64_t j = 0; j < count; ++j) scores[j] *= scale;
      softmax(scores, count);
      float* out = attn_.data() + t * qd + h * hd;
      std::memset(out, 0, hd * sizeof(float));
      for (int64_t j = 0; j < count; ++j) kt.axpy_f32(scores[j], v_.data() + (j0 + j) * kvd + kv_head * hd, out, hd);
    }
  };
  pool_.run(job);
  matmul_.run({{&l.wo, xb_.data(), static_cast<size_t>(e)}}, attn_.data(), n, qd);
  for (int64_t t = 0; t < n; ++t) {
    float* h = xb_.data() + t * e;
    add_inplace(h, l.bo.data(), e);
    add_inplace(h, x_.data() + t * e, e);
    layer_norm(h, l.attn_norm.data(), l.attn_norm_bias.data(), h, e, c.norm_eps);
  }
}

// The GELU feed-forward network, the residual and the post-norm: xb_ in, x_ out.
void Context::bert_feed_forward(int64_t layer, int64_t n) {
  const ModelConfig& c = model_.config();
  const LayerWeights& l = model_.weights().layers[layer];
  const int64_t e = c.n_embd, ff = c.n_ff;
  matmul_.run({{&l.w_up, ffn_a_.data(), static_cast<size_t>(ff)}}, xb_.data(), n, e);
  auto bias_gelu = [&](int thread, int n_threads) {
    int64_t begin, end;
    ComputePool::split(n, thread, n_threads, 1, &begin, &end);
    for (int64_t t = begin; t < end; ++t) {
      add_inplace(ffn_a_.data() + t * ff, l.b_up.data(), ff);
      gelu(ffn_a_.data() + t * ff, ff);
    }
  };
  pool_.run(bias_gelu);
  matmul_.run({{&l.w_down, x_.data(), static_cast<size_t>(e)}}, ffn_a_.data(), n, ff);
  for (int64_t t = 0; t < n; ++t) {
    float* x = x_.data() + t * e;
    add_inplace(x, l.b_down.data(), e);
    add_inplace(x, xb_.data() + t * e, e);
    layer_norm(x, l.ffn_norm.data(), l.ffn_norm_bias.data(), x, e, c.norm_eps);
  }
}

Result<std::vector<float>> Context::embed(std::span<const TokenId> tokens, bool normalize) {
  std::vector<TokenId> copy(tokens.begin(), tokens.end());
  KEEL_ASSIGN_OR_RETURN(auto all, embed_batch(std::span<const std::vector<TokenId>>(&copy, 1), normalize));
  return std::move(all[0]);
}

Result<std::vector<std::vector<float>>> Context::embed_batch(std::span<const std::vector<TokenId>> texts,
                                                              bool normalize) {
  const ModelConfig& c = model_.config();
  if (c.arch != Architecture::bert) {
    return Status::failed_precondition(
        fmt::format("{} is a {} model; embeddings need a BERT-family model", model_.file().path(),
                    c.arch_name));
  }
  const int64_t e = c.n_embd;
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  std::vector<TokenId> packed;
  std::vector<int64_t> starts;
  // Packs as many whole texts as fit in one forward pass, then runs it.
  auto flush = [&]() {
    if (packed.empty()) return;
    starts.push_back(static_cast<int64_t>(packed.size()));
    forward_bert(packed, starts);
    for (size_t s = 0; s + 1 < starts.size(); ++s) {
      const int64_t b = starts[s], n = starts[s + 1] - starts[s];
      std::vector<float> v(e, 0.0f);
      if (c.pooling == Pooling::cls) {
        std::memcpy(v.data(), x_.data() + b * e, e * sizeof(float));
      } else if (c.pooling == Pooling::last) {
        std::memcpy(v.data(), x_.data() + (b + n - 1) * e, e * sizeof(float));
      } else {
        for (int64_t t = 0; t < n; ++t) add_inplace(v.data(), x_.data() + (b + t) * e, e);
        for (auto& x : v) x /= static_cast<float>(n);
      }
      if (normalize) {
        double norm = 0;
        for (float x : v) norm += static_cast<double>(x) * x;
        norm = std::sqrt(norm);
        const float inv = norm > 0 ? static_cast<float>(1.0 / norm) : 0.0f;
        for (auto& x : v) x *= inv;
      }
      out.push_back(std::move(v));
    }
    packed.clear();
    starts.clear();
  };
  for (const auto& tokens : texts) {
    if (tokens.empty()) return Status::invalid_argument("nothing to embed: a text has no tokens");
    if (static_cast<int64_t>(tokens.size()) > options_.n_ctx) {
      return Status::invalid_argument(fmt::format("{} tokens exceed the model's context of {}",
                                                  tokens.size(), options_.n_ctx));
    }
    for (TokenId t : tokens) {
      if (t < 0 || t >= c.n_vocab) {
        return Status::invalid_argument(fmt::format("token id {} is outside the vocabulary", t));
      }
    }
    if (static_cast<int64_t>(packed.size() + tokens.size()) > options_.n_batch) flush();
    starts.push_back(static_cast<int64_t>(packed.size()));
    packed.insert(packed.end(), tokens.begin(), tokens.end());
  }
  flush();
  return out;
}

}  // namespace keel::engine
