// Tensor element types as GGUF stores them (the ggml type ids), with their block geometry.
//
// Contract: type ids are the on-disk values and never change. A row of n elements of a block
// type occupies n / block_size * type_size bytes and n must be a multiple of block_size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace keel::engine {

enum class TensorType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
};

struct TensorTypeInfo {
  TensorType type;
  std::string_view name;  //!< "Q4_K", as llama.cpp spells it
  uint32_t block_size;    //!< elements per block (1 for plain types)
  uint32_t type_size;     //!< bytes per block
  bool computable;        //!< Keel's kernels can multiply with it
};

//! Info for a known type id; nullopt for ids Keel does not know (including ggml's IQ types).
std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id);
const TensorTypeInfo& tensor_type_info(TensorType type);
std::string_view tensor_type_name(TensorType type);
//! Parses "Q4_K", "q8_0", "F16", ...
std::optional<TensorType> parse_tensor_type(std::string_view name);

//! Bytes of a row of n elements; nullopt if n is not a multiple of the block size.
std::optional<uint64_t> row_bytes(TensorType type, uint64_t n);

}  // namespace keel::engine
