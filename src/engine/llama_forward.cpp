// The forward pass of the llama family (llama, qwen2): pre-norm transformer blocks with
// RMSNorm, rotary positions, grouped-query attention over the paged KV cache and a SwiGLU
// feed-forward network.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/context.h"
#include "engine/fp16.h"
#include "engine/ops.h"
#include "engine/quants.h"

namespace keel::engine {

void Context::forward_llama(std::span<const BatchToken> batch) {
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t e = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.n_ff;
  const int64_t half_rot = c.n_rot / 2;
  const bool neox = c.rope_type == RopeType::neox;

  // Embeddings and rotation tables for the batch's positions.
  for (int64_t t = 0; t < n; ++t) {
    const uint8_t* row = w.token_embd.data + static_cast<size_t>(batch[t].token) * w.token_embd.row_bytes;
    dequantize_row(w.token_embd.type, row, x_.data() + t * e, e);
    rope_angles(batch[t].pos, c.n_rot, c.rope_freq_base, c.rope_freq_scale,
                w.rope_freqs.empty() ? nullptr : w.rope_freqs.data(), rope_cos_.data() + t * half_rot,
                rope_sin_.data() + t * half_rot);
  }

  for (int64_t layer = 0; layer < c.n_layer; ++layer) {
    const LayerWeights& l = w.layers[layer];
    for (int64_t t = 0; t < n; ++t) {
      rms_norm(x_.data() + t * e, l.attn_norm.data(), xb_.data() + t * e, e, c.norm_eps);
    }
    matmul_.run({{&l.wq, q_.data(), static_cast<size_t>(qd)},
                 {&l.wk, k_.data(), static_cast<size_t>(kvd)},
                 {&l.wv, v_.data(), static_cast<size_t>(kvd)}},
                xb_.data(), n, e);
    for (int64_t t = 0; t < n; ++t) {
      float* q = q_.data() + t * qd;
      float* k = k_.data() + t * kvd;
      float* v = v_.data() + t * kvd;
      if (!l.bq.empty()) add_inplace(q, l.bq.data(), qd);
      if (!l.bk.empty()) add_inplace(k, l.bk.data(), kvd);
      if (!l.bv.empty()) add_inplace(v, l.bv.data(), kvd);
      const float* cs = rope_cos_.data() + t * half_rot;
      const float* sn = rope_sin_.data() + t * half_rot;
      for (int64_t h = 0; h < c.n_head; ++h) rope_apply(q + h * c.head_dim, c.n_rot, cs, sn, neox);
      for (int64_t h = 0; h < c.n_head_kv; ++h) rope_apply(k + h * c.head_dim, c.n_rot, cs, sn, neox);
      const Sequence& s = sequences_[batch[t].seq];
      int64_t pos = batch[t].pos;
      kv_.store(layer, s.blocks[pos / kv_.block_size()], pos % kv_.block_size(), k, v);
    }
    attention(layer, batch);
    matmul_.run({{&l.wo, xb_.data(), static_cast<size_t>(e)}}, attn_.data(), n, qd);
    for (int64_t t = 0; t < n; ++t) {
      if (!l.bo.empty()) add_inplace(xb_.data() + t * e, l.bo.data(), e);
      add_inplace(x_.data() + t * e, xb_.data() + t * e, e);
    }

    for (int64_t t = 0; t < n; ++t) {
      rms_norm(x_.data() + t * e, l.ffn_norm.data(), xb_.data() + t * e, e, c.norm_eps);
    }
    matmul_.run({{&l.w_gate, ffn_a_.data(), static_cast<size_t>(ff)},
                 {&l.w_up, ffn_b_.data(), static_cast<size_t>(ff)}},
                xb_.data(), n, e);
    silu_mul(ffn_a_.data(), ffn_b_.data(), n * ff);
    matmul_.run({{&l.w_down, xb_.data(), static_cast<size_t>(e)}}, ffn_a_.data(), n, ff);
    for (int64_t t = 0; t < n; ++t) add_inplace(x_.data() + t * e, xb_.data() + t * e, e);
  }

  // Final norm and logits, only for the rows that asked for them.
  n_outputs_ = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (!batch[t].logits) continue;
    rms_norm(x_.data() + t * e, w.output_norm.data(), xb_.data() + n_outputs_ * e, e, c.norm_eps);
    ++n_outputs_;
  }
  if (n_outputs_ > 0) {
    matmul_.run({{&w.output, logits_.data(), static_cast<size_t>(c.n_vocab)}}, xb_.data(),
                n_outputs_, e);
  }
}

// Scaled dot-product attention of every (token, head) of the batch against its sequence's
// cached keys and values, causal by position. The query is rounded to half precision and the
// probabilities are applied to half-precision values, as llama.cpp does with an F16 cache.
void Context::attention(int64_t layer, std::span<const BatchToken> batch) {
  const ModelConfig& c = model_.config();
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t hd = c.head_dim, group = c.n_head / c.n_head_kv, bs = kv_.block_size();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const KernelTable& kt = kernels();
  const bool f16 = kv_.type() == KvCacheType::f16;
  const TensorType row_type = f16 ? TensorType::f16 : TensorType::q8_0;
  const ActivationType query_type = f16 ? ActivationType::f16 : ActivationType::q8_0;

  auto job = [&](int thread, int n_threads) {
    int64_t begin, end;
    ComputePool::split(n * c.n_head, thread, n_threads, 1, &begin, &end);
    float* scores = scores_[thread].data();
    uint16_t* query = query_f16_[thread].data();  // half values, or Q8_0 blocks (same bytes)
    float* row = row_f32_[thread].data();
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / c.n_head, h = item % c.n_head, kv_head = h / group;
      const Sequence& s = sequences_[batch[t].seq];
      const int64_t n_keys = batch[t].pos + 1;
      kt.quantize_activation(query_type, q_.data() + t * c.q_dim() + h * hd, query, hd);
      for (int64_t start = 0; start < n_keys; start += bs) {
        const int32_t block = s.blocks[start / bs];
        const int64_t count = std::min(bs, n_keys - start);
        // The slots of one head in a block are consecutive rows.
        kt.gemv(row_type, kv_.key_row(layer, block, kv_head, 0), kv_.row_bytes(), query,
                scores + start, hd, count);
      }
      for (int64_t j = 0; j < n_keys; ++j) scores[j] *= scale;
      softmax(scores, n_keys);
      float* out = attn_.data() + t * c.q_dim() + h * hd;
      std::memset(out, 0, hd * sizeof(float));
      for (int64_t j = 0; j < n_keys; ++j) {
        const uint8_t* value = kv_.value_row(layer, s.blocks[j / bs], kv_head, j % bs);
        if (f16) {
          const float p = fp16_to_fp32(fp32_to_fp16(scores[j]));
          kt.axpy_f16(p, reinterpret_cast<const uint16_t*>(value), out, hd);
        } else {
          dequantize_row(TensorType::q8_0, value, row, hd);
          for (int64_t d = 0; d < hd; ++d) out[d] += scores[j] * row[d];
        }
      }
    }
  };
  pool_.run(job);
}

}  // namespace keel::engine
