#include "engine/quants.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "engine/fp16.h"
#include "engine/quant_blocks.h"

namespace keel::engine {

int nearest_int(float x) {
  float v = x + 12582912.f;  // 1.5 * 2^23: the addition rounds to an integer, half to even
  int i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

namespace {

// ---- dequantization ------------------------------------------------------------------------

void dequantize_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK; ++j) y[i * kQK + j] = b[i].qs[j] * d;
  }
}

void dequantize_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[i * kQK + j] = ((b[i].qs[j] & 15) - 8) * d;
      y[i * kQK + j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[i * kQK + j] = (b[i].qs[j] & 15) * d + m;
      y[i * kQK + j + 16] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      int lo = (b[i].qs[j] & 15) | (((qh >> j) & 1) << 4);
      int hi = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      y[i * kQK + j] = (lo - 16) * d;
      y[i * kQK + j + 16] = (hi - 16) * d;
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    float* out = y + i * kQK_K;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, b[i].scales, &sc, &m);
      float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, b[i].scales, &sc, &m);
      float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) out[64 * c + l] = d1 * (q[32 * c + l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) out[64 * c + 32 + l] = d2 * (q[32 * c + l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    float* out = y + i * kQK_K;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, b[i].scales, &sc, &m);
      float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, b[i].scales, &sc, &m);
      float d2 = d * sc, m2 = dmin * m;
      uint8_t u1 = 1 << (2 * c), u2 = 2 << (2 * c);
      for (int l = 0; l < 32; ++l) {
        out[64 * c + l] = d1 * ((q[32 * c + l] & 0xF) + (b[i].qh[l] & u1 ? 16 : 0)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        out[64 * c + 32 + l] = d2 * ((q[32 * c + l] >> 4) + (b[i].qh[l] & u2 ? 16 : 0)) - m2;
      }
    }
  }
}

// The 6-bit value of element e (0..255) of a Q6_K block, before subtracting 32.
inline int q6_value(const BlockQ6_K& b, int e) {
  int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  int low = quarter == 0 ? (ql[l] & 0xF)
            : quarter == 1 ? (ql[l + 32] & 0xF)
            : quarter == 2 ? (ql[l] >> 4)
                           : (ql[l + 32] >> 4);
  int high = (qh[l] >> (2 * quarter)) & 3;
  return low | (high << 4);
}

void dequantize_q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float d = fp16_to_fp32(b[i].d);
    for (int e = 0; e < kQK_K; ++e) {
      y[i * kQK_K + e] = d * b[i].scales[e / 16] * (q6_value(b[i], e) - 32);
    }
  }
}

// ---- weight quantization -------------------------------------------------------------------

void quantize_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[i * kQK + j]));
    float d = amax / 127.f, id = d ? 1.f / d : 0.f;
    b[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(std::roundf(x[i * kQK + j] * id));
  }
}

// The value with the largest magnitude, sign kept (first one wins).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void quantize_q4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK;
    float d = signed_absmax(v, kQK) / -8.f, id = d ? 1.f / d : 0.f;
    b[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      uint8_t lo = static_cast<uint8_t>(std::min(15, static_cast<int>(v[j] * id + 8.5f)));
      uint8_t hi = static_cast<uint8_t>(std::min(15, static_cast<int>(v[j + 16] * id + 8.5f)));
      b[i].qs[j] = lo | (hi << 4);
    }
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK;
    float lo = *std::min_element(v, v + kQK), hi = *std::max_element(v, v + kQK);
    float d = (hi - lo) / 15.f, id = d ? 1.f / d : 0.f;
    b[i].d = fp32_to_fp16(d);
    b[i].m = fp32_to_fp16(lo);
    for (int j = 0; j < kQK / 2; ++j) {
      uint8_t a = static_cast<uint8_t>(std::min(15, static_cast<int>((v[j] - lo) * id + 0.5f)));
      uint8_t c = static_cast<uint8_t>(std::min(15, static_cast<int>((v[j + 16] - lo) * id + 0.5f)));
      b[i].qs[j] = a | (c << 4);
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK;
    float d = signed_absmax(v, kQK) / -16.f, id = d ? 1.f / d : 0.f;
    b[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      int lo = std::min(31, static_cast<int>(v[j] * id + 16.5f));
      int hi = std::min(31, static_cast<int>(v[j + 16] * id + 16.5f));
      b[i].qs[j] = static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

// Fits x ~ scale * q - min with q in [0, nmax] by a weighted least-squares search over
// candidate scales (the method llama.cpp's K-quants use). Returns the scale; *min_out >= 0.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* q, float* min_out,
                    float rmin, float rdelta, int nstep) {
  float lo = x[0], hi = x[0], sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    std::fill(q, q + n, 0);
    *min_out = -lo;
    return 0;
  }
  float iscale = nmax / (hi - lo), scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    int l = std::clamp(nearest_int(iscale * (x[i] - lo)), 0, nmax);
    q[i] = static_cast<uint8_t>(l);
    float diff = scale * l + lo - x[i];
    best_error += w[i] * diff * diff;
  }
  uint8_t trial[256];
  for (int is = 0; is <= nstep; ++is) {
    float candidate = (rmin + rdelta * is + nmax) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::clamp(nearest_int(candidate * (x[i] - lo)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float error = 0;
    for (int i = 0; i < n; ++i) {
      float diff = this_scale * trial[i] + this_min - x[i];
      error += w[i] * diff * diff;
    }
    if (error < best_error) {
      std::copy(trial, trial + n, q);
      best_error = error;
      scale = this_scale;
      lo = this_min;
    }
  }
  *min_out = -lo;
  return scale;
}

// Q4_K / Q5_K share the super-block scheme: 8 sub-blocks of 32 with 6-bit scale and min.
template <typename Block, int kMax>
void quantize_kx(const float* x, Block* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK_K;
    float scales[8], mins[8], weights[32];
    uint8_t levels[kQK_K];
    float max_scale = 0, max_min = 0;
    for (int s = 0; s < 8; ++s) {
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += v[32 * s + l] * v[32 * s + l];
      float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(v[32 * s + l]);
      scales[s] = fit_scale_min(32, kMax, v + 32 * s, weights, levels + 32 * s, &mins[s],
                                kMax == 15 ? -1.f : -0.5f, 0.1f, kMax == 15 ? 20 : 15);
      max_scale = std::max(max_scale, scales[s]);
      max_min = std::max(max_min, mins[s]);
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int s = 0; s < 8; ++s) {
      ls[s] = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * scales[s])));
      lm[s] = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mins[s])));
    }
    std::memset(b[i].scales, 0, 12);
    for (int s = 0; s < 8; ++s) {
      if (s < 4) {
        b[i].scales[s] = ls[s];
        b[i].scales[s + 4] = lm[s];
      } else {
        b[i].scales[s + 4] = (ls[s] & 0xF) | ((lm[s] & 0xF) << 4);
        b[i].scales[s - 4] |= (ls[s] >> 4) << 6;
        b[i].scales[s] |= (lm[s] >> 4) << 6;
      }
    }
    b[i].d = fp32_to_fp16(max_scale / 63.f);
    b[i].dmin = fp32_to_fp16(max_min / 63.f);
    float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      get_scale_min_k4(s, b[i].scales, &sc, &m);
      float ds = d * sc;
      if (ds == 0) continue;
      float dm = dmin * m;
      for (int l = 0; l < 32; ++l) {
        levels[32 * s + l] =
            static_cast<uint8_t>(std::clamp(nearest_int((v[32 * s + l] + dm) / ds), 0, kMax));
      }
    }
    if constexpr (kMax == 15) {
      for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
          b[i].qs[32 * c + l] = levels[64 * c + l] | (levels[64 * c + 32 + l] << 4);
        }
      }
    } else {
      std::memset(b[i].qh, 0, 32);
      for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
          uint8_t a = levels[64 * c + l], z = levels[64 * c + 32 + l];
          if (a > 15) b[i].qh[l] |= 1 << (2 * c);
          if (z > 15) b[i].qh[l] |= 2 << (2 * c);
          b[i].qs[32 * c + l] = (a & 15) | ((z & 15) << 4);
        }
      }
    }
  }
}

// Symmetric fit x ~ scale * q with q in [-nmax, nmax-1], weights x^2, refined over trial scales.
float fit_symmetric(int n, int nmax, const float* x, int8_t* q) {
  float max = signed_absmax(x, n);
  if (std::fabs(max) < 1e-30f) {
    std::fill(q, q + n, 0);
    return 0;
  }
  auto evaluate = [&](float iscale, int8_t* out, float* scale) {
    float sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      out[i] = static_cast<int8_t>(l);
      float w = x[i] * x[i];
      sum_lx += w * x[i] * l;
      sum_l2 += w * l * l;
    }
    *scale = sum_l2 > 0 ? sum_lx / sum_l2 : 0;
    return sum_l2 > 0 ? sum_lx * sum_lx / sum_l2 : 0;  // larger is better
  };
  float best_scale;
  float best = evaluate(-nmax / max, q, &best_scale);
  int8_t trial[256];
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    float scale;
    float score = evaluate(-(nmax + 0.1f * is) / max, trial, &scale);
    if (score > best) {
      best = score;
      best_scale = scale;
      std::copy(trial, trial + n, q);
    }
  }
  return best_scale;
}

void quantize_q6_k(const float* x, BlockQ6_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK_K;
    float scales[16];
    int8_t levels[kQK_K];
    float max_scale = 0, max_abs = 0;
    for (int s = 0; s < 16; ++s) {
      scales[s] = fit_symmetric(16, 32, v + 16 * s, levels + 16 * s);
      if (std::fabs(scales[s]) > max_abs) {
        max_abs = std::fabs(scales[s]);
        max_scale = scales[s];
      }
    }
    if (max_abs < 1e-15f) {
      std::memset(&b[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    float iscale = -128.f / max_scale;
    b[i].d = fp32_to_fp16(1 / iscale);
    for (int s = 0; s < 16; ++s) {
      b[i].scales[s] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[s])));
    }
    float d = fp16_to_fp32(b[i].d);
    uint8_t q[kQK_K];
    for (int s = 0; s < 16; ++s) {
      float ds = d * b[i].scales[s];
      for (int l = 0; l < 16; ++l) {
        int level = ds == 0 ? 0 : std::clamp(nearest_int(v[16 * s + l] / ds), -32, 31);
        q[16 * s + l] = static_cast<uint8_t>(level + 32);
      }
    }
    std::memset(b[i].ql, 0, sizeof b[i].ql);
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    for (int half = 0; half < 2; ++half) {
      uint8_t* ql = b[i].ql + 64 * half;
      uint8_t* qh = b[i].qh + 32 * half;
      const uint8_t* src = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = (src[l] & 0xF) | ((src[l + 64] & 0xF) << 4);
        ql[l + 32] = (src[l + 32] & 0xF) | ((src[l + 96] & 0xF) << 4);
        qh[l] = (src[l] >> 4) | ((src[l + 32] >> 4) << 2) | ((src[l + 64] >> 4) << 4) |
                ((src[l + 96] >> 4) << 6);
      }
    }
  }
}

// ---- activations ---------------------------------------------------------------------------

// As llama.cpp's AVX2 path: d = amax/127 stored as half, multiplier 127/amax, round half even.
void quantize_act_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(v[j]));
    float d = amax / 127.f, id = amax != 0 ? 127.f / amax : 0.f;
    b[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(std::nearbyintf(v[j] * id));
  }
}

void quantize_act_q8_1(const float* x, BlockQ8_1* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(v[j]));
    float d = amax / 127.f, id = amax != 0 ? 127.f / amax : 0.f;
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      b[i].qs[j] = static_cast<int8_t>(std::nearbyintf(v[j] * id));
      sum += b[i].qs[j];
    }
    b[i].d = fp32_to_fp16(d);
    b[i].s = fp32_to_fp16(sum * d);
  }
}

void quantize_act_q8_k(const float* x, BlockQ8_K* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + i * kQK_K;
    float max = signed_absmax(v, kQK_K);
    if (max == 0) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      b[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * v[j])));
    }
    for (int k = 0; k < kQK_K / 16; ++k) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b[i].qs[16 * k + j];
      b[i].bsums[k] = static_cast<int16_t>(sum);
    }
    b[i].d = 1 / iscale;
  }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case TensorType::f32: std::memcpy(dst, src, n * 4); return;
    case TensorType::f16: {
      auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return;
    }
    case TensorType::bf16: {
      auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
      return;
    }
    case TensorType::q8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n / kQK); return;
    case TensorType::q4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n / kQK); return;
    case TensorType::q4_1: dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n / kQK); return;
    case TensorType::q5_0: dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n / kQK); return;
    case TensorType::q4_k: dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n / kQK_K); return;
    case TensorType::q5_k: dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n / kQK_K); return;
    case TensorType::q6_k: dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n / kQK_K); return;
    default: assert(false && "dequantize_row: type not computable"); std::memset(dst, 0, n * 4);
  }
}

bool quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  switch (type) {
    case TensorType::f32: std::memcpy(dst, src, n * 4); return true;
    case TensorType::f16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
      return true;
    }
    case TensorType::bf16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
      return true;
    }
    case TensorType::q8_0: quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n / kQK); return true;
    case TensorType::q4_0: quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n / kQK); return true;
    case TensorType::q4_1: quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n / kQK); return true;
    case TensorType::q5_0: quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n / kQK); return true;
    case TensorType::q4_k: quantize_kx<BlockQ4_K, 15>(src, static_cast<BlockQ4_K*>(dst), n / kQK_K); return true;
    case TensorType::q5_k: quantize_kx<BlockQ5_K, 31>(src, static_cast<BlockQ5_K*>(dst), n / kQK_K); return true;
    case TensorType::q6_k: quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n / kQK_K); return true;
    default: return false;
  }
}

ActivationType activation_type_for(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::f16: return ActivationType::f16;
    case TensorType::bf16: return ActivationType::bf16;
    case TensorType::q8_0:
    case TensorType::q4_0:
    case TensorType::q5_0: return ActivationType::q8_0;
    case TensorType::q4_1: return ActivationType::q8_1;
    case TensorType::q4_k:
    case TensorType::q5_k:
    case TensorType::q6_k: return ActivationType::q8_k;
    default: return ActivationType::f32;
  }
}

int activation_block_size(ActivationType type) {
  switch (type) {
    case ActivationType::q8_0:
    case ActivationType::q8_1: return kQK;
    case ActivationType::q8_k: return kQK_K;
    default: return 1;
  }
}

size_t activation_row_bytes(ActivationType type, int64_t n) {
  switch (type) {
    case ActivationType::f32: return n * 4;
    case ActivationType::f16:
    case ActivationType::bf16: return n * 2;
    case ActivationType::q8_0: return n / kQK * sizeof(BlockQ8_0);
    case ActivationType::q8_1: return n / kQK * sizeof(BlockQ8_1);
    case ActivationType::q8_k: return n / kQK_K * sizeof(BlockQ8_K);
  }
  return 0;
}

void quantize_activation_reference(ActivationType type, const float* x, void* out, int64_t n) {
  switch (type) {
    case ActivationType::f32: std::memcpy(out, x, n * 4); return;
    case ActivationType::f16: quantize_row(TensorType::f16, x, out, n); return;
    case ActivationType::bf16: quantize_row(TensorType::bf16, x, out, n); return;
    case ActivationType::q8_0: quantize_act_q8_0(x, static_cast<BlockQ8_0*>(out), n / kQK); return;
    case ActivationType::q8_1: quantize_act_q8_1(x, static_cast<BlockQ8_1*>(out), n / kQK); return;
    case ActivationType::q8_k: quantize_act_q8_k(x, static_cast<BlockQ8_K*>(out), n / kQK_K); return;
  }
}

float vec_dot_reference(TensorType type, const void* weight_row, const void* activation, int64_t n) {
  switch (type) {
    case TensorType::f32: {
      auto* w = static_cast<const float*>(weight_row);
      auto* a = static_cast<const float*>(activation);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i]) * a[i];
      return static_cast<float>(sum);
    }
    case TensorType::f16:
    case TensorType::bf16: {
      auto* w = static_cast<const uint16_t*>(weight_row);
      auto* a = static_cast<const uint16_t*>(activation);
      auto to_f = type == TensorType::f16 ? fp16_to_fp32 : bf16_to_fp32;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(to_f(w[i]) * to_f(a[i]));
      return static_cast<float>(sum);
    }
    case TensorType::q8_0:
    case TensorType::q4_0:
    case TensorType::q5_0: {
      auto* a = static_cast<const BlockQ8_0*>(activation);
      float sum = 0;
      for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        float wd;
        if (type == TensorType::q8_0) {
          auto& wb = static_cast<const BlockQ8_0*>(weight_row)[b];
          for (int j = 0; j < kQK; ++j) sumi += wb.qs[j] * a[b].qs[j];
          wd = fp16_to_fp32(wb.d);
        } else if (type == TensorType::q4_0) {
          auto& wb = static_cast<const BlockQ4_0*>(weight_row)[b];
          for (int j = 0; j < kQK / 2; ++j) {
            sumi += ((wb.qs[j] & 15) - 8) * a[b].qs[j] + ((wb.qs[j] >> 4) - 8) * a[b].qs[j + 16];
          }
          wd = fp16_to_fp32(wb.d);
        } else {
          auto& wb = static_cast<const BlockQ5_0*>(weight_row)[b];
          uint32_t qh;
          std::memcpy(&qh, wb.qh, 4);
          for (int j = 0; j < kQK / 2; ++j) {
            int lo = ((wb.qs[j] & 15) | (((qh >> j) & 1) << 4)) - 16;
            int hi = ((wb.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            sumi += lo * a[b].qs[j] + hi * a[b].qs[j + 16];
          }
          wd = fp16_to_fp32(wb.d);
        }
        sum += sumi * wd * fp16_to_fp32(a[b].d);
      }
      return sum;
    }
    case TensorType::q4_1: {
      auto* w = static_cast<const BlockQ4_1*>(weight_row);
      auto* a = static_cast<const BlockQ8_1*>(activation);
      float sum = 0;
      for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kQK / 2; ++j) {
          sumi += (w[b].qs[j] & 15) * a[b].qs[j] + (w[b].qs[j] >> 4) * a[b].qs[j + 16];
        }
        sum += fp16_to_fp32(w[b].d) * fp16_to_fp32(a[b].d) * sumi +
               fp16_to_fp32(w[b].m) * fp16_to_fp32(a[b].s);
      }
      return sum;
    }
    case TensorType::q4_k:
    case TensorType::q5_k: {
      auto* a = static_cast<const BlockQ8_K*>(activation);
      float sum = 0;
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        const uint8_t* scales;
        const uint8_t* qs;
        const uint8_t* qh = nullptr;
        float d, dmin;
        if (type == TensorType::q4_k) {
          auto& wb = static_cast<const BlockQ4_K*>(weight_row)[b];
          scales = wb.scales, qs = wb.qs, d = fp16_to_fp32(wb.d), dmin = fp16_to_fp32(wb.dmin);
        } else {
          auto& wb = static_cast<const BlockQ5_K*>(weight_row)[b];
          scales = wb.scales, qs = wb.qs, qh = wb.qh, d = fp16_to_fp32(wb.d),
          dmin = fp16_to_fp32(wb.dmin);
        }
        int sum_scaled = 0, sum_mins = 0;
        for (int s = 0; s < 8; ++s) {
          uint8_t sc, m;
          get_scale_min_k4(s, scales, &sc, &m);
          int c = s / 2, upper = s % 2;
          int sumi = 0;
          for (int l = 0; l < 32; ++l) {
            int q = upper ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 0xF;
            if (qh && (qh[l] & (1 << (2 * c + upper)))) q += 16;
            sumi += q * a[b].qs[32 * s + l];
          }
          sum_scaled += sc * sumi;
          sum_mins += m * (a[b].bsums[2 * s] + a[b].bsums[2 * s + 1]);
        }
        sum += a[b].d * (d * sum_scaled - dmin * sum_mins);
      }
      return sum;
    }
    case TensorType::q6_k: {
      auto* w = static_cast<const BlockQ6_K*>(weight_row);
      auto* a = static_cast<const BlockQ8_K*>(activation);
      float sum = 0;
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        int total = 0;
        for (int g = 0; g < 16; ++g) {
          int sumi = 0;
          for (int l = 0; l < 16; ++l) sumi += (q6_value(w[b], 16 * g + l) - 32) * a[b].qs[16 * g + l];
          total += w[b].scales[g] * sumi;
        }
        sum += a[b].d * fp16_to_fp32(w[b].d) * total;
      }
      return sum;
    }
    default: assert(false && "vec_dot_reference: type not computable"); return 0;
  }
}

}  // namespace keel::engine
