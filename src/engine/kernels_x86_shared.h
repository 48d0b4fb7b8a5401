// Helpers shared by the x86 kernel files (kernels_avx2.cpp, kernels_avx512.cpp).
//
// Contract: include it only inside an anonymous namespace within a `#pragma GCC target` region,
// after <immintrin.h> and quant_blocks.h. Each file then gets its own copy, compiled for its own
// target: no AVX-512 instruction can reach the AVX2 table through the linker keeping one copy
// of a shared inline function. KEEL_AVX2 must be defined (empty, or the target attribute).
#pragma once

KEEL_AVX2 inline float hsum(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// One F16C instruction; the same exact value as fp16_to_fp32().
KEEL_AVX2 inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// Float-like rows: F32, F16, BF16 widened to 8 floats.
KEEL_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

KEEL_AVX2 inline __m256 load_bf16(const uint16_t* p) {
  __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

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

// The end of every float-like dot product: the even accumulator holds 8-element chunks 0, 2, 4,
// ... and the odd one chunks 1, 3, ...; from element i on, a last lone chunk joins the even one,
// even + odd is reduced, then the scalar tail is added in order. Every fast float-like product
// (gemv, tiles, 512-bit) ends here, so they give the same floats.
template <FloatLike kType>
KEEL_AVX2 inline float float_like_finish(const uint8_t* w, const uint8_t* a, int64_t n, int64_t i, __m256 even,
                                         __m256 odd) {
  if (i + 8 <= n) {
    even = _mm256_fmadd_ps(load_as_f32<kType>(w, i), load_as_f32<kType>(a, i), even);
    i += 8;
  }
  float sum = hsum(_mm256_add_ps(even, odd));
  for (; i < n; ++i) sum += scalar_at<kType>(w, i) * scalar_at<kType>(a, i);
  return sum;
}

// A K-quant activation super-block's sums of 32 activations (8 int16): bsums holds sums of 16,
// so neighbours are added. |sum| <= 32 * 128 fits int16.
KEEL_AVX2 inline __m128i k_sub_block_sums(const int16_t* bsums) {
  const __m256i sums16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  return _mm_hadd_epi16(_mm256_castsi256_si128(sums16), _mm256_extracti128_si256(sums16, 1));
}

// Sum over the 8 sub-blocks of min * (sum of that sub-block's 32 activations).
KEEL_AVX2 inline int k_mins_dot(const uint8_t* mins, __m128i sub_block_sums) {
  const __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins)));
  __m128i p = _mm_madd_epi16(sub_block_sums, m);  // 4 int32
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(p);
}

// The per-super-block part of a Q4_K/Q5_K dot product that depends on the weights only: the 8
// scales and mins unpacked, and the super-block's scale and min scale as floats.
struct KQuantRow {
  float d, dmin;
  alignas(8) uint8_t scales[8];
  alignas(8) uint8_t mins[8];
};
KEEL_AVX2 inline KQuantRow k_quant_row(const uint8_t* block) {
  uint32_t d_and_dmin;  // two halves: d, then dmin
  std::memcpy(&d_and_dmin, block, 4);
  const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d_and_dmin)));
  KQuantRow row;
  unpack_scales_mins_k4(block + 4, row.scales, row.mins);
  row.d = _mm_cvtss_f32(both);
  row.dmin = _mm_cvtss_f32(_mm_movehdup_ps(both));
  return row;
}
// The mins' term of one super-block against one activation block: -d_a * dmin * sum(min * sums),
// `sub_block_sums` being k_sub_block_sums of the activation block (a kernel may prepare it once).
KEEL_AVX2 inline float k_mins_term(const KQuantRow& row, const BlockQ8_K& a, __m128i sub_block_sums) {
  return -(a.d * row.dmin * static_cast<float>(k_mins_dot(row.mins, sub_block_sums)));
}
