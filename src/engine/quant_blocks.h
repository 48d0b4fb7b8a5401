// Byte layouts of the quantized block types, exactly as GGUF files store them (little-endian,
// packed). `d`, `m`, `dmin` are IEEE half precision bit patterns unless noted.
#pragma once

#include <cstdint>
#include <cstring>

namespace keel::engine {

inline constexpr int kQK = 32;     //!< elements per block of the 32-element types
inline constexpr int kQK_K = 256;  //!< elements per K-quant super-block

#pragma pack(push, 1)
//! y = qs * d
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
//! Activations for Q4_1: s = d * sum(qs)
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};
//! y = (nibble - 8) * d; byte j holds element j (low nibble) and j + 16 (high nibble)
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
//! y = nibble * d + m
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
//! y = ((nibble | bit << 4) - 16) * d; bit j of qh (little-endian u32) belongs to element j
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
//! 8 sub-blocks of 32 with 6-bit scales and mins packed in `scales` (see get_scale_min_k4)
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
//! 16 sub-blocks of 16 with signed 8-bit scales; y = d * scale * (q6 - 32)
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
//! Activations for K-quants: d is a float (negative when the largest-magnitude value is
//! positive); bsums[k] = sum of qs[16k .. 16k+15]
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
#pragma pack(pop)

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

//! The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

//! All 8 scales and mins of a Q4_K/Q5_K block at once (the same values as get_scale_min_k4),
//! computed on 32-bit words: 4 sub-blocks per operation.
inline void unpack_scales_mins_k4(const uint8_t* q, uint8_t scales[8], uint8_t mins[8]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, q, 4);
  std::memcpy(&u1, q + 4, 4);
  std::memcpy(&u2, q + 8, 4);
  const uint32_t low6 = 0x3F3F3F3F, low4 = 0x0F0F0F0F, low2 = 0x03030303;
  const uint32_t sc[2] = {u0 & low6, (u2 & low4) | (((u0 >> 6) & low2) << 4)};
  const uint32_t mn[2] = {u1 & low6, ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4)};
  std::memcpy(scales, sc, 8);
  std::memcpy(mins, mn, 8);
}

}  // namespace keel::engine
