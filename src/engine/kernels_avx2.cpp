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
#define KEEL_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define KEEL_AVX2
#endif

namespace {

KEEL_AVX2 inline float hsum(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// One F16C instruction; the same exact value as fp16_to_fp32().
KEEL_AVX2 inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

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

// Float-like dot products keep one 8-lane accumulator and a scalar tail: the tiled matrix
// product below sums in exactly this order, so a token's result does not depend on whether it
// was computed alone (gemv) or in a batch (gemm). Independent rows keep the FMA units busy.
KEEL_AVX2 float dot_f32(const float* w, const float* a, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), acc);
  float sum = hsum(acc);
  for (; i < n; ++i) sum += w[i] * a[i];
  return sum;
}

KEEL_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

KEEL_AVX2 inline __m256 load_bf16(const uint16_t* p) {
  __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <bool kBf16>
KEEL_AVX2 float dot_half(const uint16_t* w, const uint16_t* a, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = kBf16 ? load_bf16(w + i) : load_f16(w + i);
    const __m256 y = kBf16 ? load_bf16(a + i) : load_f16(a + i);
    acc = _mm256_fmadd_ps(x, y, acc);
  }
  float sum = hsum(acc);
  for (; i < n; ++i) {
    sum += kBf16 ? bf16_to_fp32(w[i]) * bf16_to_fp32(a[i]) : fp16_to_fp32(w[i]) * fp16_to_fp32(a[i]);
  }
  return sum;
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

// Sum over the 8 sub-blocks of min * (sum of the activations of that sub-block).
inline int k_mins_dot(const uint8_t* mins, const int16_t* bsums) {
  int sum = 0;
  for (int s = 0; s < 8; ++s) sum += mins[s] * (bsums[2 * s] + bsums[2 * s + 1]);
  return sum;
}

template <bool kFive>
KEEL_AVX2 float dot_qk_4or5(const uint8_t* blocks, size_t block_bytes, const BlockQ8_K* a,
                            int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* b = blocks + i * block_bytes;
    uint16_t d16, dmin16;
    std::memcpy(&d16, b, 2);
    std::memcpy(&dmin16, b + 2, 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = kFive ? b + 16 : nullptr;
    const uint8_t* qs = kFive ? b + 48 : b + 16;
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) get_scale_min_k4(s, scales, &sc[s], &mn[s]);
    mins_total -= a[i].d * half_to_float(dmin16) * k_mins_dot(mn, a[i].bsums);
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
      __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, al), _mm256_set1_epi16(sc[2 * c]));
      __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(qhi, ah), _mm256_set1_epi16(sc[2 * c + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * half_to_float(d16)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + mins_total;
}

KEEL_AVX2 float dot_q6_k(const BlockQ6_K* w, const BlockQ8_K* a, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(3);
  const __m256i m32 = _mm256_set1_epi8(32);
  for (int64_t i = 0; i < nb; ++i) {
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[i].ql + 64 * half;
      const uint8_t* qh = w[i].qh + 32 * half;
      const int8_t* sc = w[i].scales + 8 * half;
      const int8_t* q8 = a[i].qs + 128 * half;
      __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, low_mask),
                             _mm256_slli_epi16(_mm256_and_si256(h, two_bits), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, low_mask),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), two_bits), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low_mask),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), two_bits), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low_mask),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), two_bits), 4));
      for (int k = 0; k < 4; ++k) {
        __m256i a8 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * k));
        // (q - 32) * a, as q * a - 32 * a: both fit int16 pairs.
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], a8), _mm256_maddubs_epi16(m32, a8));
        __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * half_to_float(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

KEEL_AVX2 float dot_row(TensorType type, const uint8_t* w, const void* a, int64_t n) {
  switch (type) {
    case TensorType::f32: return dot_f32(reinterpret_cast<const float*>(w), static_cast<const float*>(a), n);
    case TensorType::f16:
      return dot_half<false>(reinterpret_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a), n);
    case TensorType::bf16:
      return dot_half<true>(reinterpret_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a), n);
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


// Float-like weights (F32, F16, BF16) against activations of the same type, a tile of 2 weight
// rows by 4 tokens at a time: each weight vector loaded and widened once feeds 4 FMAs, each
// activation vector 2, where a row-by-token dot product does 1 of each. Tiles cover the largest
// multiples of 2 rows and 4 tokens; the edges go through dot_row. Each result is summed in the
// order dot_f32 / dot_half use, so it is bit-identical to theirs.
enum class FloatLike { f32, f16, bf16 };

template <FloatLike kType>
inline float scalar_at(const uint8_t* base, int64_t i) {
  if constexpr (kType == FloatLike::f32) return reinterpret_cast<const float*>(base)[i];
  if constexpr (kType == FloatLike::f16) return fp16_to_fp32(reinterpret_cast<const uint16_t*>(base)[i]);
  return bf16_to_fp32(reinterpret_cast<const uint16_t*>(base)[i]);
}

template <FloatLike kType>
KEEL_AVX2 inline __m256 load_as_f32(const uint8_t* base, int64_t i) {
  if constexpr (kType == FloatLike::f32) return _mm256_loadu_ps(reinterpret_cast<const float*>(base) + i);
  if constexpr (kType == FloatLike::f16) return load_f16(reinterpret_cast<const uint16_t*>(base) + i);
  return load_bf16(reinterpret_cast<const uint16_t*>(base) + i);
}

template <FloatLike kType>
KEEL_AVX2 void gemm_float_tiles(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                                const uint8_t* a, size_t a_stride, int64_t tokens, float* y,
                                size_t y_stride, int64_t n) {
  constexpr int kRows = 2, kTokens = 4;
  const int64_t rows_tiled = rows / kRows * kRows, tokens_tiled = tokens / kTokens * kTokens;
  for (int64_t r = 0; r < rows_tiled; r += kRows) {
    const uint8_t* w0 = w + r * row_bytes;
    const uint8_t* w1 = w0 + row_bytes;
    for (int64_t t = 0; t < tokens_tiled; t += kTokens) {
      const uint8_t* at[kTokens] = {a + t * a_stride, a + (t + 1) * a_stride, a + (t + 2) * a_stride,
                                    a + (t + 3) * a_stride};
      __m256 acc0[kTokens], acc1[kTokens];
      for (int k = 0; k < kTokens; ++k) acc0[k] = acc1[k] = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 8 <= n; i += 8) {
        const __m256 x0 = load_as_f32<kType>(w0, i), x1 = load_as_f32<kType>(w1, i);
        for (int k = 0; k < kTokens; ++k) {
          const __m256 v = load_as_f32<kType>(at[k], i);
          acc0[k] = _mm256_fmadd_ps(x0, v, acc0[k]);
          acc1[k] = _mm256_fmadd_ps(x1, v, acc1[k]);
        }
      }
      for (int k = 0; k < kTokens; ++k) {
        float s0 = hsum(acc0[k]), s1 = hsum(acc1[k]);
        for (int64_t j = i; j < n; ++j) {
          const float v = scalar_at<kType>(at[k], j);
          s0 += scalar_at<kType>(w0, j) * v;
          s1 += scalar_at<kType>(w1, j) * v;
        }
        y[(t + k) * y_stride + r] = s0;
        y[(t + k) * y_stride + r + 1] = s1;
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

// One row at a time: with both threads streaming weights, more rows in flight per thread
// measured slower (more concurrent streams for the prefetchers) on the 1B files.
KEEL_AVX2 void avx2_gemv(TensorType type, const uint8_t* w, size_t row_bytes, const void* a,
                         float* y, int64_t n, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) y[r] = dot_row(type, w + r * row_bytes, a, n);
}

KEEL_AVX2 void avx2_gemm(TensorType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                         const uint8_t* a, size_t a_stride, int64_t tokens, float* y,
                         size_t y_stride, int64_t n) {
  if (tokens >= 4) {
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

const KernelTable kAvx2 = {"avx2", quantize_activation_reference, avx2_gemv, avx2_gemm,
                           avx2_axpy_f16, avx2_axpy_f32};

}  // namespace

#pragma GCC pop_options

const KernelTable* avx2_kernels() {
  __builtin_cpu_init();
  unsigned eax, ebx, ecx, edx;
  // F16C is CPUID leaf 1, ECX bit 29 (not every compiler's __builtin_cpu_supports knows it).
  bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) return &kAvx2;
  return nullptr;
}

#else

const KernelTable* avx2_kernels() { return nullptr; }

#endif

}  // namespace keel::engine
