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

// The per-super-block part of a Q4_K/Q5_K dot product: the 8 scales and mins unpacked, the
// super-block scale times the activation's, and the mins' term, -d_a * dmin * sum(min * sums).
// `sub_block_sums` is k_sub_block_sums of the activation block (a kernel may prepare it once).
struct KQuantHead {
  float d;
  float mins_term;
  alignas(8) uint8_t scales[8];
};
KEEL_AVX2 inline KQuantHead k_quant_head(const uint8_t* block, const BlockQ8_K& a, __m128i sub_block_sums) {
  uint32_t d_and_dmin;  // two halves: d, then dmin
  std::memcpy(&d_and_dmin, block, 4);
  const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d_and_dmin)));
  KQuantHead head;
  alignas(8) uint8_t mins[8];
  unpack_scales_mins_k4(block + 4, head.scales, mins);
  head.d = a.d * _mm_cvtss_f32(both);
  head.mins_term = -(a.d * _mm_cvtss_f32(_mm_movehdup_ps(both)) * static_cast<float>(k_mins_dot(mins, sub_block_sums)));
  return head;
}
