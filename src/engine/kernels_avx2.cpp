// AVX2 + FMA + F16C kernels. Only the functions below are compiled for AVX2 (by target
// attribute, not by a file-wide -mavx2), so no inline function shared with other files is ever
// emitted with AVX2 instructions; avx2_kernels() returns null on CPUs without the features.
#include <cstring>

#include "engine/fp16.h"
#include "engine/kernels.h"
#include "engine/quant_blocks.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KEEL_HAVE_AVX2_KERNELS 1
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace keel::engine {

#ifdef KEEL_HAVE_AVX2_KERNELS

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#if defined(__clang__)
// Clang ignores GCC's target pragma; this gives every function in the region, lambdas' call
// operators included, the same target.
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#endif
#if defined(__clang__)
#define KEEL_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define KEEL_AVX2
#endif

namespace {

#include "engine/kernels_x86_shared.h"

KEEL_AVX2 inline __m256 i16_pairs_to_float(__m256i x) {
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(x, _mm256_set1_epi16(1)));
}

// Sum of products of signed bytes, as 8 floats: maddubs needs one unsigned operand, so move
// x's sign onto y.
KEEL_AVX2 inline __m256 dot_i8_to_float(__m256i x, __m256i y) {
  __m256i ax = _mm256_sign_epi8(x, x);
  __m256i sy = _mm256_sign_epi8(y, x);
  return i16_pairs_to_float(_mm256_maddubs_epi16(ax, sy));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first (elements 0..15), then high (16..31).
KEEL_AVX2 inline __m256i unpack_nibbles(const uint8_t* p) {
  __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(tmp), _mm_srli_epi16(tmp, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes, 0xFF where the bit is set.
KEEL_AVX2 inline __m256i expand_bits(uint32_t bits) {
  const __m256i select = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), select);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
}

// The summation order every float-like product uses: 8-element chunks into two 8-lane
// accumulators (even and odd chunks, so consecutive FMAs do not wait on each other: with one
// chain an F16 row ran at half the memory speed), their sum reduced, then a scalar tail. The
// tiled matrix product below sums in exactly this order, so a token's result does not depend on
// whether it was computed alone (gemv) or in a batch (gemm).
template <FloatLike kType>
KEEL_AVX2 float dot_float_like(const uint8_t* w, const uint8_t* a, int64_t n) {
  __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    even = _mm256_fmadd_ps(load_as_f32<kType>(w, i), load_as_f32<kType>(a, i), even);
    odd = _mm256_fmadd_ps(load_as_f32<kType>(w, i + 8), load_as_f32<kType>(a, i + 8), odd);
  }
  return float_like_finish<kType>(w, a, n, i, even, odd);
}

// Q8_0 and Q4_0 weights as signed bytes, one 32-element block at a time.
KEEL_AVX2 inline __m256i q8_0_bytes(const BlockQ8_0& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
}
KEEL_AVX2 inline __m256i q4_0_bytes(const BlockQ4_0& b) {
  return _mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8));
}

// Two accumulators (even and odd blocks) so consecutive blocks do not wait on one FMA chain;
// the tiled matrix product below sums in the same order.
template <typename Block, __m256i (*kBytes)(const Block&)>
KEEL_AVX2 float dot_q8_blocks(const Block* w, const BlockQ8_0* a, int64_t nb) {
  auto term = [&](int64_t i, __m256 acc) {
    const __m256 d = _mm256_set1_ps(half_to_float(w[i].d) * half_to_float(a[i].d));
    return _mm256_fmadd_ps(d, dot_i8_to_float(kBytes(w[i]), q8_0_bytes(a[i])), acc);
  };
  __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();  // named, so they stay in registers
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    even = term(i, even);
    odd = term(i + 1, odd);
  }
  if (i < nb) even = term(i, even);
  return hsum(_mm256_add_ps(even, odd));
}

KEEL_AVX2 float dot_q8_0(const BlockQ8_0* w, const BlockQ8_0* a, int64_t nb) {
  return dot_q8_blocks<BlockQ8_0, q8_0_bytes>(w, a, nb);
}

KEEL_AVX2 float dot_q4_0(const BlockQ4_0* w, const BlockQ8_0* a, int64_t nb) {
  return dot_q8_blocks<BlockQ4_0, q4_0_bytes>(w, a, nb);
}

KEEL_AVX2 float dot_q4_1(const BlockQ4_1* w, const BlockQ8_1* a, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t i = 0; i < nb; ++i) {
    mins += half_to_float(w[i].m) * half_to_float(a[i].s);
    __m256 d = _mm256_set1_ps(half_to_float(w[i].d) * half_to_float(a[i].d));
    __m256i qw = unpack_nibbles(w[i].qs);  // 0..15: already unsigned for maddubs
    __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    acc = _mm256_fmadd_ps(d, i16_pairs_to_float(_mm256_maddubs_epi16(qw, qa)), acc);
  }
  return hsum(acc) + mins;
}

KEEL_AVX2 float dot_q5_0(const BlockQ5_0* w, const BlockQ8_0* a, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i sixteen = _mm256_set1_epi8(16);
  for (int64_t i = 0; i < nb; ++i) {
    __m256 d = _mm256_set1_ps(half_to_float(w[i].d) * half_to_float(a[i].d));
    uint32_t qh;
    std::memcpy(&qh, w[i].qh, 4);
    __m256i high = _mm256_and_si256(expand_bits(qh), sixteen);
    __m256i qw = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(w[i].qs), high), sixteen);
    __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    acc = _mm256_fmadd_ps(d, dot_i8_to_float(qw, qa), acc);
  }
  return hsum(acc);
}

// pshufb masks that copy int16 number j of each 128-bit lane to all 8 positions of that lane.
KEEL_AVX2 inline __m256i repeat_i16(int lane0_index, int lane1_index) {
  const char l0 = static_cast<char>(2 * lane0_index), l1 = static_cast<char>(2 * lane1_index);
  return _mm256_setr_epi8(l0, l0 + 1, l0, l0 + 1, l0, l0 + 1, l0, l0 + 1, l0, l0 + 1, l0, l0 + 1, l0, l0 + 1,
                          l0, l0 + 1, l1, l1 + 1, l1, l1 + 1, l1, l1 + 1, l1, l1 + 1, l1, l1 + 1, l1, l1 + 1,
                          l1, l1 + 1, l1, l1 + 1);
}

// Q4_K / Q5_K against Q8_K: per super-block the 8 scales and mins are unpacked on words, the
// mins' term comes from the activation's block sums, and each sub-block's scale reaches its
// madd by one in-lane shuffle of the 8 scales held as int16.
template <bool kFive>
KEEL_AVX2 float dot_qk_4or5(const uint8_t* blocks, size_t block_bytes, const BlockQ8_K* a,
                            int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i pick[4] = {repeat_i16(0, 0), repeat_i16(2, 2), repeat_i16(4, 4), repeat_i16(6, 6)};
  const __m256i pick_odd[4] = {repeat_i16(1, 1), repeat_i16(3, 3), repeat_i16(5, 5), repeat_i16(7, 7)};
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* b = blocks + i * block_bytes;
    const uint8_t* qh = kFive ? b + 16 : nullptr;
    const uint8_t* qs = kFive ? b + 48 : b + 16;
    const KQuantRow head = k_quant_row(b);
    mins_total += k_mins_term(head, a[i], k_sub_block_sums(a[i].bsums));
    const __m256i scales16 = _mm256_broadcastsi128_si256(
        _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(head.scales))));
    __m256i hbits = kFive ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh))
                          : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
      __m256i ql = _mm256_and_si256(q, low_mask);
      __m256i qhi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low_mask);
      if constexpr (kFive) {
        const __m256i bit_lo = _mm256_set1_epi8(static_cast<char>(1 << (2 * c)));
        const __m256i bit_hi = _mm256_set1_epi8(static_cast<char>(2 << (2 * c)));
        const __m256i sixteen = _mm256_set1_epi8(16);
        ql = _mm256_or_si256(ql, _mm256_and_si256(
                                     _mm256_cmpeq_epi8(_mm256_and_si256(hbits, bit_lo), bit_lo), sixteen));
        qhi = _mm256_or_si256(qhi, _mm256_and_si256(
                                       _mm256_cmpeq_epi8(_mm256_and_si256(hbits, bit_hi), bit_hi), sixteen));
      }
      __m256i al = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 64 * c));
      __m256i ah = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 64 * c + 32));
      __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, al), _mm256_shuffle_epi8(scales16, pick[c]));
      __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(qhi, ah), _mm256_shuffle_epi8(scales16, pick_odd[c]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * head.d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + mins_total;
}

// Q6_K against Q8_K: weights enter maddubs unsigned (0..63) and the -32 offset is taken off
// once per super-block as 32 * sum(scale * block sum of 16 activations); each sub-block's scale
// comes from the 16 scales held as int16 by one in-lane shuffle.
KEEL_AVX2 float dot_q6_k(const BlockQ6_K* w, const BlockQ8_K* a, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(3);
  // Group k of a half covers sub-blocks 2k (first 16 elements) and 2k + 1 (next 16).
  const __m256i pick[4] = {repeat_i16(0, 1), repeat_i16(2, 3), repeat_i16(4, 5), repeat_i16(6, 7)};
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales)));
    const __m256i offset = _mm256_slli_epi32(
        _mm256_madd_epi16(scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums))), 5);
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), offset);
    // Each half's 8 scales in both 128-bit lanes.
    const __m256i scales_of_half[2] = {_mm256_permute2x128_si256(scales16, scales16, 0x00),
                                       _mm256_permute2x128_si256(scales16, scales16, 0x11)};
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[i].ql + 64 * half;
      const uint8_t* qh = w[i].qh + 32 * half;
      const int8_t* q8 = a[i].qs + 128 * half;
      __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      for (int k = 0; k < 4; ++k) {
        // Group k: low 4 bits from l0 / l1 (low nibbles, then high), 2 high bits from h >> 2k.
        const __m256i q = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(k % 2 ? l1 : l0, 4 * (k / 2)), low_mask),
            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * k), two_bits), 4));
        __m256i a8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * k));
        __m256i p = _mm256_maddubs_epi16(q, a8);  // q * a: at most 2 * 63 * 128, fits int16
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(scales_of_half[half], pick[k])));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * half_to_float(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

KEEL_AVX2 float dot_row(TensorType type, const uint8_t* w, const void* a, int64_t n) {
  switch (type) {
    case TensorType::f32: return dot_float_like<FloatLike::f32>(w, static_cast<const uint8_t*>(a), n);
    case TensorType::f16: return dot_float_like<FloatLike::f16>(w, static_cast<const uint8_t*>(a), n);
    case TensorType::bf16: return dot_float_like<FloatLike::bf16>(w, static_cast<const uint8_t*>(a), n);
    case TensorType::q8_0:
      return dot_q8_0(reinterpret_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(a), n / kQK);
    case TensorType::q4_0:
      return dot_q4_0(reinterpret_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(a), n / kQK);
    case TensorType::q4_1:
      return dot_q4_1(reinterpret_cast<const BlockQ4_1*>(w), static_cast<const BlockQ8_1*>(a), n / kQK);
    case TensorType::q5_0:
      return dot_q5_0(reinterpret_cast<const BlockQ5_0*>(w), static_cast<const BlockQ8_0*>(a), n / kQK);
    case TensorType::q4_k:
      return dot_qk_4or5<false>(w, sizeof(BlockQ4_K), static_cast<const BlockQ8_K*>(a), n / kQK_K);
    case TensorType::q5_k:
      return dot_qk_4or5<true>(w, sizeof(BlockQ5_K), static_cast<const BlockQ8_K*>(a), n / kQK_K);
    case TensorType::q6_k:
      return dot_q6_k(reinterpret_cast<const BlockQ6_K*>(w), static_cast<const BlockQ8_K*>(a), n / kQK_K);
    default: return vec_dot_reference(type, w, a, n);
  }
}


// Float-like weights against activations of the same type, a tile of 2 weight rows by 2 tokens
// (even and odd chunks apart: 8 accumulators): each weight vector loaded and widened once feeds
// 2 FMAs, each activation vector 2, where a row-by-token dot product does 1 of each. Tiles cover
// the largest multiples of 2 rows and 2 tokens; the edges go through dot_row. Each result is
// summed in dot_float_like's order, so it is bit-identical to it.
template <FloatLike kType>
KEEL_AVX2 void gemm_float_tiles(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                                const uint8_t* a, size_t a_stride, int64_t tokens, float* y,
                                size_t y_stride, int64_t n) {
  constexpr int kRows = 2, kTokens = 2;
  const int64_t rows_tiled = rows / kRows * kRows, tokens_tiled = tokens / kTokens * kTokens;
  for (int64_t r = 0; r < rows_tiled; r += kRows) {
    const uint8_t* w0 = w + r * row_bytes;
    const uint8_t* w1 = w0 + row_bytes;
    for (int64_t t = 0; t < tokens_tiled; t += kTokens) {
      const uint8_t* a0 = a + t * a_stride;
      const uint8_t* a1 = a0 + a_stride;
      // acc[parity][row][token], indexed only by constants so they stay in registers.
      __m256 acc[2][2][2];
      for (auto& parity : acc) {
        for (auto& row : parity) row[0] = row[1] = _mm256_setzero_ps();
      }
      auto step = [&](int64_t i, __m256 (&into)[2][2]) {
        const __m256 x0 = load_as_f32<kType>(w0, i), x1 = load_as_f32<kType>(w1, i);
        const __m256 v0 = load_as_f32<kType>(a0, i), v1 = load_as_f32<kType>(a1, i);
        into[0][0] = _mm256_fmadd_ps(x0, v0, into[0][0]);
        into[0][1] = _mm256_fmadd_ps(x0, v1, into[0][1]);
        into[1][0] = _mm256_fmadd_ps(x1, v0, into[1][0]);
        into[1][1] = _mm256_fmadd_ps(x1, v1, into[1][1]);
      };
      int64_t i = 0;
      for (; i + 16 <= n; i += 16) {
        step(i, acc[0]);
        step(i + 8, acc[1]);
      }
      for (int row = 0; row < kRows; ++row) {
        for (int k = 0; k < kTokens; ++k) {
          y[(t + k) * y_stride + r + row] =
              float_like_finish<kType>(row == 0 ? w0 : w1, k == 0 ? a0 : a1, n, i, acc[0][row][k], acc[1][row][k]);
        }
      }
    }
    for (int64_t t = tokens_tiled; t < tokens; ++t) {
      y[t * y_stride + r] = dot_row(type, w0, a + t * a_stride, n);
      y[t * y_stride + r + 1] = dot_row(type, w1, a + t * a_stride, n);
    }
  }
  for (int64_t r = rows_tiled; r < rows; ++r) {
    for (int64_t t = 0; t < tokens; ++t) y[t * y_stride + r] = dot_row(type, w + r * row_bytes, a + t * a_stride, n);
  }
}

// Q8_0 / Q4_0 weights against Q8_0 activations, 2 rows by 2 tokens (8 accumulators with the
// even/odd split, all in registers): each weight block is unpacked once for 2 tokens and each
// activation block loaded once for 2 rows. Each result is
// summed in dot_q8_blocks' order (even and odd blocks apart), so it is bit-identical to gemv's.
template <typename Block, __m256i (*kBytes)(const Block&)>
KEEL_AVX2 void gemm_q8_tiles(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                             const uint8_t* a, size_t a_stride, int64_t tokens, float* y,
                             size_t y_stride, int64_t n) {
  constexpr int kTokens = 2;
  const int64_t nb = n / kQK;
  const int64_t rows_tiled = rows / 2 * 2, tokens_tiled = tokens / kTokens * kTokens;
  for (int64_t r = 0; r < rows_tiled; r += 2) {
    const Block* w0 = reinterpret_cast<const Block*>(w + r * row_bytes);
    const Block* w1 = reinterpret_cast<const Block*>(w + (r + 1) * row_bytes);
    for (int64_t t = 0; t < tokens_tiled; t += kTokens) {
      const BlockQ8_0* at[kTokens];
      for (int k = 0; k < kTokens; ++k) at[k] = reinterpret_cast<const BlockQ8_0*>(a + (t + k) * a_stride);
      // acc[parity][row][token], indexed only by constants so they stay in registers.
      __m256 acc[2][2][kTokens];
      for (auto& parity : acc) {
        for (auto& row : parity) {
          for (auto& v : row) v = _mm256_setzero_ps();
        }
      }
      auto step = [&](int64_t i, __m256 (&into)[2][kTokens]) {
        const __m256i x0 = kBytes(w0[i]), x1 = kBytes(w1[i]);
        const float d0 = half_to_float(w0[i].d), d1 = half_to_float(w1[i].d);
        // Move each weight's sign onto the activations once per pair (see dot_i8_to_float).
        const __m256i ax0 = _mm256_sign_epi8(x0, x0), ax1 = _mm256_sign_epi8(x1, x1);
        for (int k = 0; k < kTokens; ++k) {
          const __m256i v = q8_0_bytes(at[k][i]);
          const float da = half_to_float(at[k][i].d);
          const __m256 s0 = i16_pairs_to_float(_mm256_maddubs_epi16(ax0, _mm256_sign_epi8(v, x0)));
          const __m256 s1 = i16_pairs_to_float(_mm256_maddubs_epi16(ax1, _mm256_sign_epi8(v, x1)));
          into[0][k] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * da), s0, into[0][k]);
          into[1][k] = _mm256_fmadd_ps(_mm256_set1_ps(d1 * da), s1, into[1][k]);
        }
      };
      int64_t i = 0;
      for (; i + 2 <= nb; i += 2) {
        step(i, acc[0]);
        step(i + 1, acc[1]);
      }
      if (i < nb) step(i, acc[0]);
      for (int k = 0; k < kTokens; ++k) {
        y[(t + k) * y_stride + r] = hsum(_mm256_add_ps(acc[0][0][k], acc[1][0][k]));
        y[(t + k) * y_stride + r + 1] = hsum(_mm256_add_ps(acc[0][1][k], acc[1][1][k]));
      }
    }
    for (int64_t t = tokens_tiled; t < tokens; ++t) {
      y[t * y_stride + r] = dot_row(type, w + r * row_bytes, a + t * a_stride, n);
      y[t * y_stride + r + 1] = dot_row(type, w + (r + 1) * row_bytes, a + t * a_stride, n);
    }
  }
  for (int64_t r = rows_tiled; r < rows; ++r) {
    for (int64_t t = 0; t < tokens; ++t) y[t * y_stride + r] = dot_row(type, w + r * row_bytes, a + t * a_stride, n);
  }
}

// AVX-VNNI's dpbusd: acc + sums of 4 products of unsigned bytes (u8) and signed bytes (s8), in
// int32 lanes, without the int16 saturation of maddubs. Written in assembly so that only the
// table chosen on CPUs with AVX-VNNI ever executes it, without compiling other code for it.
KEEL_AVX2 inline __m256i dpbusd_vnni(__m256i acc, __m256i u8, __m256i s8) {
  asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "xm"(s8));
  return acc;
}

// Q4_0 rows against one Q8_0 activation, with the activation's per-block work done once per
// call instead of once per row: its scales (as floats in all 8 lanes), and -8 * (sum of each 4
// activations) as 8 int32 lanes. A weight block then enters the integer product as unsigned
// nibbles (0..15), and (q - 8) * a is computed as q * a - 8 * a: the same integers as
// dot_q4_0's sign trick, so the same floats in the same order (bit-identical), with fewer
// instructions per block; with AVX-VNNI the product and the offset are one instruction.
// Rows up to 32,768 long (Llama-70B's n_ff is 28,672) use 64 KiB of stack; longer ones take the
// row-at-a-time path.
constexpr int64_t kPreparedBlocks = 1024;

template <bool kVnni>
KEEL_AVX2 void gemv_q4_0(const uint8_t* w, size_t row_bytes, const BlockQ8_0* a, float* y, int64_t n,
                         int64_t rows) {
  const int64_t nb = n / kQK;
  if (nb > kPreparedBlocks) {
    for (int64_t r = 0; r < rows; ++r) y[r] = dot_q4_0(reinterpret_cast<const BlockQ4_0*>(w + r * row_bytes), a, nb);
    return;
  }
  alignas(32) __m256i minus_eight_a[kPreparedBlocks];
  alignas(32) __m256 da[kPreparedBlocks];
  const __m256i eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < nb; ++i) {
    da[i] = _mm256_set1_ps(half_to_float(a[i].d));
    minus_eight_a[i] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_madd_epi16(_mm256_maddubs_epi16(eight, q8_0_bytes(a[i])), ones));
  }
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i high_half_shift = _mm256_set_epi64x(4, 4, 0, 0);
  for (int64_t r = 0; r < rows; ++r) {
    const BlockQ4_0* x = reinterpret_cast<const BlockQ4_0*>(w + r * row_bytes);
    auto term = [&](int64_t i, __m256 acc) {
      // Low nibbles to bytes 0..15, high nibbles to 16..31 (unpack_nibbles' layout).
      const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs)));
      const __m256i q = _mm256_and_si256(_mm256_srlv_epi64(both, high_half_shift), low_mask);
      __m256i dot;
      if constexpr (kVnni) {
        dot = dpbusd_vnni(minus_eight_a[i], q, q8_0_bytes(a[i]));
      } else {
        dot = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, q8_0_bytes(a[i])), ones), minus_eight_a[i]);
      }
      // The weight's half-precision scale in all 8 lanes, converted there (no scalar-to-vector move).
      const __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(x[i].d)));
      return _mm256_fmadd_ps(_mm256_mul_ps(dw, da[i]), _mm256_cvtepi32_ps(dot), acc);
    };
    __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
      even = term(i, even);
      odd = term(i + 1, odd);
    }
    if (i < nb) even = term(i, even);
    y[r] = hsum(_mm256_add_ps(even, odd));
  }
}

// One row at a time: with both threads streaming weights, more rows in flight per thread
// measured slower (more concurrent streams for the prefetchers) on the 1B files.
template <bool kVnni>
KEEL_AVX2 void avx2_gemv(TensorType type, const uint8_t* w, size_t row_bytes, const void* a,
                         float* y, int64_t n, int64_t rows) {
  if (type == TensorType::q4_0) return gemv_q4_0<kVnni>(w, row_bytes, static_cast<const BlockQ8_0*>(a), y, n, rows);
  for (int64_t r = 0; r < rows; ++r) y[r] = dot_row(type, w + r * row_bytes, a, n);
}

KEEL_AVX2 void avx2_gemm(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                         const uint8_t* a, size_t a_stride, int64_t tokens, float* y,
                         size_t y_stride, int64_t n) {
  if (tokens >= 2) {
    switch (type) {
      case TensorType::f32:
        return gemm_float_tiles<FloatLike::f32>(type, w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::f16:
        return gemm_float_tiles<FloatLike::f16>(type, w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::bf16:
        return gemm_float_tiles<FloatLike::bf16>(type, w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::q8_0:
        return gemm_q8_tiles<BlockQ8_0, q8_0_bytes>(type, w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      case TensorType::q4_0:
        return gemm_q8_tiles<BlockQ4_0, q4_0_bytes>(type, w, row_bytes, rows, a, a_stride, tokens, y, y_stride, n);
      default: break;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    for (int64_t t = 0; t < tokens; ++t) y[t * y_stride + r] = dot_row(type, row, a + t * a_stride, n);
  }
}

KEEL_AVX2 void avx2_axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

KEEL_AVX2 void avx2_axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// 8 accumulators of 8 lanes: 256 bytes per iteration in flight, no addition waits on another.
KEEL_AVX2 float avx2_read_sum_f32(const float* x, int64_t n) {
  __m256 acc[8];
  for (auto& a : acc) a = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 8; ++k) acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(x + i + 8 * k));
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
  float total = hsum(acc[0]);
  for (; i < n; ++i) total += x[i];
  return total;
}

const KernelTable kAvx2 = {"avx2",        quantize_activation_reference, avx2_gemv<false>, avx2_gemm,
                           avx2_axpy_f16, avx2_axpy_f32,                 avx2_read_sum_f32};
// The same table, with AVX-VNNI's integer dot product where it saves instructions.
const KernelTable kAvx2Vnni = {"avx2-vnni",   quantize_activation_reference, avx2_gemv<true>, avx2_gemm,
                               avx2_axpy_f16, avx2_axpy_f32,                 avx2_read_sum_f32};

}  // namespace

#if defined(__clang__)
#pragma clang attribute pop
#endif
#pragma GCC pop_options

const KernelTable* avx2_kernels() {
  __builtin_cpu_init();
  unsigned eax, ebx, ecx, edx;
  // F16C is CPUID leaf 1, ECX bit 29 (not every compiler's __builtin_cpu_supports knows it).
  bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) return &kAvx2;
  return nullptr;
}

const KernelTable* avx2_vnni_kernels() {
  if (!avx2_kernels()) return nullptr;
  unsigned eax, ebx, ecx, edx;
  // AVX-VNNI is CPUID leaf 7 sub-leaf 1, EAX bit 4; the OS must save AVX state (checked by the
  // AVX2 test above).
  bool vnni = __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 4));
  return vnni ? &kAvx2Vnni : nullptr;
}

#else

const KernelTable* avx2_kernels() { return nullptr; }
const KernelTable* avx2_vnni_kernels() { return nullptr; }

#endif

}  // namespace keel::engine
