// AVX-512 (F, BW, VL, DQ, VNNI) products, 64 bytes per instruction where the AVX2 table does
// 32: matrix-vector rows for Q4_0, Q4_K, Q6_K (what decoding the common 4-bit files spends its
// time in; Q6_K is their output matrix) and F32/F16/BF16; matrix-matrix tiles for prompts for
// Q4_0, Q4_K and F32/F16/BF16. Every other product is the AVX2(-VNNI) table's.
//
// Each result is bit-identical to the AVX2 table's: the integer sums are the same integers in
// the same 8 lanes, and the floats are accumulated in the same lanes in the same order (a
// 512-bit accumulator's two halves are the AVX2 kernel's even and odd accumulators). So prompts
// and decoding agree across tables too: a token's logits do not depend on the batch it ran in.
// Compiled by target attribute, like kernels_avx2.cpp; GCC only (as that file).
#include <cstring>

#include "engine/fp16.h"
#include "engine/kernels.h"
#include "engine/quant_blocks.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KEEL_HAVE_AVX512_KERNELS 1
#include <immintrin.h>
#endif

namespace keel::engine {

#ifdef KEEL_HAVE_AVX512_KERNELS

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#if defined(__clang__)
// Clang ignores GCC's target pragma; this gives every function in the region, lambdas' call
// operators included, the same target.
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#endif
// GCC 12 at -O3 reports its own AVX-512 insert intrinsics' undefined-by-design upper lanes as
// maybe-uninitialized; nothing here reads an uninitialized value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define KEEL_AVX2

namespace {

#include "engine/kernels_x86_shared.h"

const KernelTable* g_avx2 = nullptr;  // the table everything else comes from; set before use

// Rows up to 32,768 long have their activation prepared on the stack (96 KiB for Q4_0, 32 KiB
// for Q4_K); longer ones go to the AVX2 table.
constexpr int64_t kPreparedBlocks = 1024;

// Two 8-lane float vectors as one 16-lane vector (lo in lanes 0..7).
// (Zero-extended first: GCC 12 warns that a cast's upper half is uninitialized.)
inline __m512 join(__m256 lo, __m256 hi) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_zextps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1); }
inline __m512i join_loads(const uint8_t* lo, const uint8_t* hi) {
  return join(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo)),
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)));
}

// Q4_0 against Q8_0 two blocks at a time: lanes 0..7 hold the even block, 8..15 the odd one,
// exactly as the AVX2 kernel's even and odd accumulators. As there, the weights enter the
// product as unsigned nibbles and -8 * (activation sums) is subtracted as int32 lanes. (One
// masked 36-byte load with vpermb/vpermw to spread a pair measured 4x slower on Zen 5 than
// these broadcasts.) Every function below computes a term the same way, so gemv, the tiled gemm
// and the edges give the same floats.

// Blocks 2j and 2j + 1 of a Q4_0 row as unsigned nibbles, in unpack_nibbles' layout per half.
inline __m512i q4_0_pair_nibbles(const BlockQ4_0* x, int64_t j) {
  const __m512i both = join(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[2 * j].qs))),
                            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[2 * j + 1].qs))));
  return _mm512_and_si512(_mm512_srlv_epi64(both, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(0x0F));
}
// Their scales, each in its 8 lanes (converted in the vector, as the AVX2 kernel does).
inline __m512 q4_0_pair_scales(const BlockQ4_0* x, int64_t j) {
  // The pair's first 32 bytes hold d0 (word 0) and d1 (word 9); spread each over 8 words.
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 2 * j));
  const __m256i from = _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9);
  return _mm512_cvtph_ps(_mm256_permutexvar_epi16(from, raw));
}
// Activation blocks 2j and 2j + 1: values, scales, and -8 * (sums of 4 values) as int32 lanes.
struct Q8Pair {
  __m512i values;
  __m512i minus_eight_sums;
  __m512 scales;
};
inline Q8Pair q8_0_pair(const BlockQ8_0* a, int64_t j) {
  Q8Pair p;
  p.values = join_loads(reinterpret_cast<const uint8_t*>(a[2 * j].qs), reinterpret_cast<const uint8_t*>(a[2 * j + 1].qs));
  p.minus_eight_sums = _mm512_sub_epi32(
      _mm512_setzero_si512(), _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_set1_epi8(8), p.values), _mm512_set1_epi16(1)));
  p.scales = join(_mm256_set1_ps(half_to_float(a[2 * j].d)), _mm256_set1_ps(half_to_float(a[2 * j + 1].d)));
  return p;
}
inline __m512 q4_0_pair_term(__m512i nibbles, __m512 w_scales, const Q8Pair& a, __m512 acc) {
  const __m512i dot = _mm512_dpbusd_epi32(a.minus_eight_sums, nibbles, a.values);
  return _mm512_fmadd_ps(_mm512_mul_ps(w_scales, a.scales), _mm512_cvtepi32_ps(dot), acc);
}
// The row's result from its pair accumulator: an odd last block joins the even half, as in the
// AVX2 kernel, then even + odd is summed.
inline float q4_0_finish(const BlockQ4_0* x, const BlockQ8_0* a, int64_t nb, __m512 acc) {
  __m256 even = _mm512_castps512_ps256(acc);
  const __m256 odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
  if (nb % 2) {
    const int64_t i = nb - 1;
    const __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs)));
    const __m256i q = _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(0x0F));
    const __m256i minus = _mm256_sub_epi32(
        _mm256_setzero_si256(), _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), values), _mm256_set1_epi16(1)));
    const __m256i dot = _mm256_dpbusd_epi32(minus, q, values);
    const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(x[i].d)));
    const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(half_to_float(a[i].d)));
    even = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot), even);
  }
  return hsum(_mm256_add_ps(even, odd));
}
inline float dot_q4_0(const BlockQ4_0* x, const BlockQ8_0* a, int64_t nb) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < nb / 2; ++j) acc = q4_0_pair_term(q4_0_pair_nibbles(x, j), q4_0_pair_scales(x, j), q8_0_pair(a, j), acc);
  return q4_0_finish(x, a, nb, acc);
}

// Rows against one activation: its pairs are prepared once per call.
void gemv_q4_0(const uint8_t* w, size_t row_bytes, const BlockQ8_0* a, float* y, int64_t n, int64_t rows) {
  const int64_t nb = n / kQK, pairs = nb / 2;
  if (nb > kPreparedBlocks) return g_avx2->gemv(TensorType::q4_0, w, row_bytes, a, y, n, rows);
  alignas(64) Q8Pair prepared[kPreparedBlocks / 2];
  for (int64_t j = 0; j < pairs; ++j) prepared[j] = q8_0_pair(a, j);
  for (int64_t r = 0; r < rows; ++r) {
    const BlockQ4_0* x = reinterpret_cast<const BlockQ4_0*>(w + r * row_bytes);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < pairs; ++j) acc = q4_0_pair_term(q4_0_pair_nibbles(x, j), q4_0_pair_scales(x, j), prepared[j], acc);
    y[r] = q4_0_finish(x, a, nb, acc);
  }
}

// Prompts: a tile of 4 rows by 4 tokens (16 pair accumulators of the 32 registers): each weight
// pair is unpacked once for 4 tokens, each activation pair prepared once for 4 rows. The edges
// go through dot_q4_0.
void gemm_q4_0(const uint8_t* w, size_t row_bytes, int64_t rows, const uint8_t* a, size_t a_stride, int64_t tokens,
               float* y, size_t y_stride, int64_t n) {
  constexpr int kRows = 4, kTokens = 4;
  const int64_t nb = n / kQK, pairs = nb / 2;
  const int64_t rows_tiled = rows / kRows * kRows, tokens_tiled = tokens / kTokens * kTokens;
  auto row = [&](int64_t r) { return reinterpret_cast<const BlockQ4_0*>(w + r * row_bytes); };
  auto token = [&](int64_t t) { return reinterpret_cast<const BlockQ8_0*>(a + t * a_stride); };
  for (int64_t r = 0; r < rows_tiled; r += kRows) {
    for (int64_t t = 0; t < tokens_tiled; t += kTokens) {
      __m512 acc[kRows][kTokens];
      for (auto& per_row : acc) {
        for (auto& v : per_row) v = _mm512_setzero_ps();
      }
      for (int64_t j = 0; j < pairs; ++j) {
        __m512i nibbles[kRows];
        __m512 scales[kRows];
        for (int i = 0; i < kRows; ++i) {
          nibbles[i] = q4_0_pair_nibbles(row(r + i), j);
          scales[i] = q4_0_pair_scales(row(r + i), j);
        }
        for (int k = 0; k < kTokens; ++k) {
          const Q8Pair p = q8_0_pair(token(t + k), j);
          for (int i = 0; i < kRows; ++i) acc[i][k] = q4_0_pair_term(nibbles[i], scales[i], p, acc[i][k]);
        }
      }
      for (int i = 0; i < kRows; ++i) {
        for (int k = 0; k < kTokens; ++k) y[(t + k) * y_stride + r + i] = q4_0_finish(row(r + i), token(t + k), nb, acc[i][k]);
      }
    }
    for (int64_t t = tokens_tiled; t < tokens; ++t) {
      for (int i = 0; i < kRows; ++i) y[t * y_stride + r + i] = dot_q4_0(row(r + i), token(t), nb);
    }
  }
  for (int64_t r = rows_tiled; r < rows; ++r) {
    for (int64_t t = 0; t < tokens; ++t) y[t * y_stride + r] = dot_q4_0(row(r), token(t), nb);
  }
}

// pshufb masks over 4 128-bit lanes of 8 int16 each: lanes 0-1 repeat int16 number `low`,
// lanes 2-3 number `high`.
__m512i repeat_i16_512(int low, int high) {
  alignas(64) uint8_t index[64];
  for (int k = 0; k < 64; ++k) index[k] = static_cast<uint8_t>(2 * (k < 32 ? low : high) + k % 2);
  return _mm512_load_si512(index);
}

// The K-quant activation's values, each super-block's eight 32-byte chunks in `order` (position
// c takes chunk order[c]), so that a kernel's 64-byte loads match its weights' layout.
void reorder_chunks(const BlockQ8_K* a, int64_t nb, const int (&order)[8], int8_t* out) {
  for (int64_t i = 0; i < nb; ++i) {
    for (int c = 0; c < 8; ++c) std::memcpy(out + i * kQK_K + 32 * c, a[i].qs + 32 * order[c], 32);
  }
}

// Q4_K against Q8_K, 64 weight bytes (128 weights, sub-blocks 4k..4k+3) per step: the low
// nibbles are sub-blocks [4k | 4k + 2], the high ones [4k + 1 | 4k + 3], so the activation is
// read in that order (copied once per call for gemv, joined from two loads in the tiles). The
// two 256-bit halves of the integer sum add up to the AVX2 kernel's 8 lanes (the same
// integers), and the floats are formed as there.

// The shuffles that spread a super-block's scales over each step's sub-blocks.
struct Q4KPicks {
  __m512i low[2], high[2];
};
inline Q4KPicks q4_k_picks() {
  Q4KPicks p;
  p.low[0] = repeat_i16_512(0, 2);
  p.low[1] = repeat_i16_512(4, 6);
  p.high[0] = repeat_i16_512(1, 3);
  p.high[1] = repeat_i16_512(5, 7);
  return p;
}
// One row's super-block unpacked for both steps: nibbles and each step's scale vectors.
struct Q4KWeights {
  __m512i low[2], high[2], scale_low[2], scale_high[2];
};
inline Q4KWeights q4_k_weights(const uint8_t* block, const KQuantRow& row, const Q4KPicks& pick) {
  const __m512i scales16 =
      _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row.scales))));
  const __m512i low_mask = _mm512_set1_epi8(0x0F);
  Q4KWeights q;
  for (int k = 0; k < 2; ++k) {
    const __m512i bytes = _mm512_loadu_si512(block + 16 + 64 * k);
    q.low[k] = _mm512_and_si512(bytes, low_mask);
    q.high[k] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low_mask);
    q.scale_low[k] = _mm512_shuffle_epi8(scales16, pick.low[k]);
    q.scale_high[k] = _mm512_shuffle_epi8(scales16, pick.high[k]);
  }
  return q;
}
// Step k of the integer sum; `al` / `ah` are the activation's values in the weights' order.
inline __m512i q4_k_step(const Q4KWeights& q, int k, __m512i al, __m512i ah, __m512i sumi) {
  sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q.low[k], al), q.scale_low[k]);
  return _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q.high[k], ah), q.scale_high[k]);
}
inline __m256 q4_k_accumulate(const KQuantRow& row, const BlockQ8_K& a, __m512i sumi, __m256 acc) {
  const __m256i sumi8 = _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
  return _mm256_fmadd_ps(_mm256_set1_ps(a.d * row.d), _mm256_cvtepi32_ps(sumi8), acc);
}
// The activation's 64 values of step k, half `high`, in the weights' order.
inline __m512i q4_k_activation(const BlockQ8_K& a, int k, int high) {
  const uint8_t* v = reinterpret_cast<const uint8_t*>(a.qs) + 128 * k + 32 * high;
  return join_loads(v, v + 64);
}

void gemv_q4_k(const uint8_t* w, size_t row_bytes, const BlockQ8_K* a, float* y, int64_t n, int64_t rows) {
  const int64_t nb = n / kQK_K;
  if (nb * (kQK_K / kQK) > kPreparedBlocks) return g_avx2->gemv(TensorType::q4_k, w, row_bytes, a, y, n, rows);
  static constexpr int kChunkOrder[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  alignas(64) int8_t reordered[kPreparedBlocks * kQK];
  reorder_chunks(a, nb, kChunkOrder, reordered);
  alignas(16) __m128i sub_block_sums[kPreparedBlocks / (kQK_K / kQK)];
  for (int64_t i = 0; i < nb; ++i) sub_block_sums[i] = k_sub_block_sums(a[i].bsums);
  const Q4KPicks pick = q4_k_picks();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    __m256 acc = _mm256_setzero_ps();
    float mins_total = 0;
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * sizeof(BlockQ4_K);
      const KQuantRow head = k_quant_row(b);
      mins_total += k_mins_term(head, a[i], sub_block_sums[i]);
      const Q4KWeights q = q4_k_weights(b, head, pick);
      __m512i sumi = _mm512_setzero_si512();
      for (int k = 0; k < 2; ++k) {
        const int8_t* v = reordered + i * kQK_K + 128 * k;
        sumi = q4_k_step(q, k, _mm512_load_si512(v), _mm512_load_si512(v + 64), sumi);
      }
      acc = q4_k_accumulate(head, a[i], sumi, acc);
    }
    y[r] = hsum(acc) + mins_total;
  }
}

// Prompts: 2 rows by 4 tokens. Each row's super-block is unpacked once for 4 tokens, each
// token's values loaded once per step for 2 rows; the edges go through the AVX2 table's dot.
void gemm_q4_k(const uint8_t* w, size_t row_bytes, int64_t rows, const uint8_t* a, size_t a_stride, int64_t tokens,
               float* y, size_t y_stride, int64_t n) {
  constexpr int kRows = 2, kTokens = 4;
  const int64_t nb = n / kQK_K;
  const int64_t rows_tiled = rows / kRows * kRows, tokens_tiled = tokens / kTokens * kTokens;
  auto token = [&](int64_t t) { return reinterpret_cast<const BlockQ8_K*>(a + t * a_stride); };
  const Q4KPicks pick = q4_k_picks();
  for (int64_t r = 0; r < rows_tiled; r += kRows) {
    for (int64_t t = 0; t < tokens_tiled; t += kTokens) {
      __m256 acc[kRows][kTokens];
      float mins_total[kRows][kTokens] = {};
      for (auto& per_row : acc) {
        for (auto& v : per_row) v = _mm256_setzero_ps();
      }
      for (int64_t i = 0; i < nb; ++i) {
        KQuantRow head[kRows];
        Q4KWeights q[kRows];
        for (int j = 0; j < kRows; ++j) {
          const uint8_t* b = w + (r + j) * row_bytes + i * sizeof(BlockQ4_K);
          head[j] = k_quant_row(b);
          q[j] = q4_k_weights(b, head[j], pick);
        }
        for (int k = 0; k < kTokens; ++k) {
          const BlockQ8_K& ak = token(t + k)[i];
          const __m128i sums = k_sub_block_sums(ak.bsums);
          __m512i sumi[kRows] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
          for (int step = 0; step < 2; ++step) {
            const __m512i al = q4_k_activation(ak, step, 0), ah = q4_k_activation(ak, step, 1);
            for (int j = 0; j < kRows; ++j) sumi[j] = q4_k_step(q[j], step, al, ah, sumi[j]);
          }
          for (int j = 0; j < kRows; ++j) {
            mins_total[j][k] += k_mins_term(head[j], ak, sums);
            acc[j][k] = q4_k_accumulate(head[j], ak, sumi[j], acc[j][k]);
          }
        }
      }
      for (int j = 0; j < kRows; ++j) {
        for (int k = 0; k < kTokens; ++k) y[(t + k) * y_stride + r + j] = hsum(acc[j][k]) + mins_total[j][k];
      }
    }
    if (tokens_tiled < tokens) {
      g_avx2->gemm(TensorType::q4_k, w + r * row_bytes, row_bytes, kRows, a + tokens_tiled * a_stride, a_stride,
                   tokens - tokens_tiled, y + tokens_tiled * y_stride + r, y_stride, n);
    }
  }
  if (rows_tiled < rows) {
    g_avx2->gemm(TensorType::q4_k, w + rows_tiled * row_bytes, row_bytes, rows - rows_tiled, a, a_stride, tokens,
                 y + rows_tiled, y_stride, n);
  }
}

// Q6_K against Q8_K, both 128-weight halves of a super-block at once: lanes 0..7 of every
// vector hold the first half's elements, 8..15 the second's, so each unpacked vector feeds one
// product of 64 weights. The activation is copied once per call in that order ([chunk k of
// half 0 | chunk k of half 1]); the -32 offset and the final lanes are the AVX2 kernel's.
void gemv_q6_k(const uint8_t* w, size_t row_bytes, const BlockQ8_K* a, float* y, int64_t n, int64_t rows) {
  const int64_t nb = n / kQK_K;
  if (nb * (kQK_K / kQK) > kPreparedBlocks) return g_avx2->gemv(TensorType::q6_k, w, row_bytes, a, y, n, rows);
  static constexpr int kChunkOrder[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  alignas(64) int8_t reordered[kPreparedBlocks * kQK];
  reorder_chunks(a, nb, kChunkOrder, reordered);
  // Group k covers sub-blocks 2k and 2k + 1 of each half: 128-bit lanes 0 and 2 take the
  // half's scale 2k, lanes 1 and 3 its scale 2k + 1.
  alignas(64) uint8_t pick_bytes[4][64];
  for (int k = 0; k < 4; ++k) {
    for (int b = 0; b < 64; ++b) pick_bytes[k][b] = static_cast<uint8_t>(2 * (2 * k + (b / 16) % 2) + b % 2);
  }
  const __m512i pick[4] = {_mm512_load_si512(pick_bytes[0]), _mm512_load_si512(pick_bytes[1]),
                           _mm512_load_si512(pick_bytes[2]), _mm512_load_si512(pick_bytes[3])};
  const __m512i low_mask = _mm512_set1_epi8(0x0F), two_bits = _mm512_set1_epi8(3);
  for (int64_t r = 0; r < rows; ++r) {
    const BlockQ6_K* x = reinterpret_cast<const BlockQ6_K*>(w + r * row_bytes);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const __m256i scales16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales)));
      const __m256i offset = _mm256_slli_epi32(
          _mm256_madd_epi16(scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums))), 5);
      // Lanes 0-1: the first half's 8 scales; lanes 2-3: the second half's.
      const __m512i halves_scales = join(_mm256_permute2x128_si256(scales16, scales16, 0x00),
                                         _mm256_permute2x128_si256(scales16, scales16, 0x11));
      const __m512i l0 = join_loads(x[i].ql, x[i].ql + 64), l1 = join_loads(x[i].ql + 32, x[i].ql + 96);
      const __m512i h = _mm512_loadu_si512(x[i].qh);
      __m512i sumi = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {
        // Group k: low 4 bits from l0 / l1 (low nibbles, then high), 2 high bits from h >> 2k.
        const __m512i q = _mm512_or_si512(
            _mm512_and_si512(_mm512_srli_epi16(k % 2 ? l1 : l0, 4 * (k / 2)), low_mask),
            _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 2 * k), two_bits), 4));
        const __m512i a8 = _mm512_load_si512(reordered + i * kQK_K + 64 * k);
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q, a8), _mm512_shuffle_epi8(halves_scales, pick[k]));
      }
      const __m256i sumi8 = _mm256_sub_epi32(
          _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1)), offset);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * half_to_float(x[i].d)), _mm256_cvtepi32_ps(sumi8), acc);
    }
    y[r] = hsum(acc);
  }
}

// Float-like rows (F32, F16, BF16), 16 elements per vector: lanes 0..7 are the AVX2 kernel's
// even 8-element chunk and lanes 8..15 its odd one, so one 512-bit FMA is its two accumulators'
// FMAs; a last lone chunk joins the even half and the scalar tail follows, as there.
template <FloatLike kType>
inline __m512 load16_as_f32(const uint8_t* base, int64_t i) {
  if constexpr (kType == FloatLike::f32) return _mm512_loadu_ps(reinterpret_cast<const float*>(base) + i);
  if constexpr (kType == FloatLike::f16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(base) + i)));
  }
  const __m512i wide = _mm512_cvtepu16_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(base) + i)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

template <FloatLike kType>
inline float float_like_finish(const uint8_t* w, const uint8_t* a, int64_t n, int64_t i, __m512 acc) {
  return float_like_finish<kType>(w, a, n, i, _mm512_castps512_ps256(acc),
                                  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
}

template <FloatLike kType>
inline float dot_float_like(const uint8_t* w, const uint8_t* a, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(load16_as_f32<kType>(w, i), load16_as_f32<kType>(a, i), acc);
  return float_like_finish<kType>(w, a, n, i, acc);
}

template <FloatLike kType>
void gemv_float_like(const uint8_t* w, size_t row_bytes, const uint8_t* a, float* y, int64_t n, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) y[r] = dot_float_like<kType>(w + r * row_bytes, a, n);
}

// Prompts: 4 rows by 4 tokens (16 accumulators): each weight vector widened once for 4 tokens,
// each activation vector once for 4 rows. The edges go through dot_float_like.
template <FloatLike kType>
void gemm_float_like(const uint8_t* w, size_t row_bytes, int64_t rows, const uint8_t* a, size_t a_stride,
                     int64_t tokens, float* y, size_t y_stride, int64_t n) {
  constexpr int kRows = 4, kTokens = 4;
  const int64_t rows_tiled = rows / kRows * kRows, tokens_tiled = tokens / kTokens * kTokens;
  for (int64_t r = 0; r < rows_tiled; r += kRows) {
    for (int64_t t = 0; t < tokens_tiled; t += kTokens) {
      __m512 acc[kRows][kTokens];
      for (auto& per_row : acc) {
        for (auto& v : per_row) v = _mm512_setzero_ps();
      }
      int64_t i = 0;
      for (; i + 16 <= n; i += 16) {
        __m512 x[kRows];
        for (int k = 0; k < kRows; ++k) x[k] = load16_as_f32<kType>(w + (r + k) * row_bytes, i);
        for (int k = 0; k < kTokens; ++k) {
          const __m512 v = load16_as_f32<kType>(a + (t + k) * a_stride, i);
          for (int j = 0; j < kRows; ++j) acc[j][k] = _mm512_fmadd_ps(x[j], v, acc[j][k]);
        }
      }
      for (int j = 0; j < kRows; ++j) {
        for (int k = 0; k < kTokens; ++k) {
          y[(t + k) * y_stride + r + j] =
              float_like_finish<kType>(w + (r + j) * row_bytes, a + (t + k) * a_stride, n, i, acc[j][k]);
        }
      }
    }
    for (int64_t t = tokens_tiled; t < tokens; ++t) {
      for (int j = 0; j < kRows; ++j) y[t * y_stride + r + j] = dot_float_like<kType>(w + (r + j) * row_bytes, a + t * a_stride, n);
    }
  }
  for (int64_t r = rows_tiled; r < rows; ++r) {
    for (int64_t t = 0; t < tokens; ++t) y[t * y_stride + r] = dot_float_like<kType>(w + r * row_bytes, a + t * a_stride, n);
  }
}

void avx512_gemm(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows, const uint8_t* a,
                 size_t a_stride, int64_t tokens, float* y, size_t y_stride, int64_t n) {
  if (tokens >= 4) {
    switch (type) {
      case TensorType::q4_0: return gemm_q4_0(w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::q4_k: return gemm_q4_k(w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::f32: return gemm_float_like<FloatLike::f32>(w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::f16: return gemm_float_like<FloatLike::f16>(w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::bf16: return gemm_float_like<FloatLike::bf16>(w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      default: break;
    }
  }
  return g_avx2->gemm(type, w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
}

void avx512_gemv(TensorType type, const uint8_t* w, size_t row_bytes, const void* a, float* y, int64_t n,
                 int64_t rows) {
  switch (type) {
    case TensorType::q4_0: return gemv_q4_0(w, row_bytes, static_cast<const BlockQ8_0*>(a), y, n, rows);
    case TensorType::q4_k: return gemv_q4_k(w, row_bytes, static_cast<const BlockQ8_K*>(a), y, n, rows);
    case TensorType::q6_k: return gemv_q6_k(w, row_bytes, static_cast<const BlockQ8_K*>(a), y, n, rows);
    case TensorType::f32: return gemv_float_like<FloatLike::f32>(w, row_bytes, static_cast<const uint8_t*>(a), y, n, rows);
    case TensorType::f16: return gemv_float_like<FloatLike::f16>(w, row_bytes, static_cast<const uint8_t*>(a), y, n, rows);
    case TensorType::bf16: return gemv_float_like<FloatLike::bf16>(w, row_bytes, static_cast<const uint8_t*>(a), y, n, rows);
    default: return g_avx2->gemv(type, w, row_bytes, a, y, n, rows);
  }
}

}  // namespace

#pragma GCC diagnostic pop
#if defined(__clang__)
#pragma clang attribute pop
#endif
#pragma GCC pop_options

const KernelTable* avx512_kernels() {
  static const KernelTable* table = []() -> const KernelTable* {
    // AVX-VNNI (the VEX form) is not implied by AVX-512 VNNI (Zen 4 has only the latter); the
    // products this table takes from its base are bit-identical either way.
    const KernelTable* vnni = avx2_vnni_kernels();
    const KernelTable* base = vnni ? vnni : avx2_kernels();
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vnni");
    if (base == nullptr || !avx512) return nullptr;
    g_avx2 = base;
    static KernelTable t = *base;
    t.name = "avx512";
    t.gemv = avx512_gemv;
    t.gemm = avx512_gemm;
    return &t;
  }();
  return table;
}

#else

const KernelTable* avx512_kernels() { return nullptr; }

#endif

}  // namespace keel::engine
