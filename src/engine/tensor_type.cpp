#include "engine/tensor_type.h"

#include <cctype>
#include <string>

namespace keel::engine {

namespace {

constexpr TensorTypeInfo kTypes[] = {
    {TensorType::f32, "F32", 1, 4, true},
    {TensorType::f16, "F16", 1, 2, true},
    {TensorType::q4_0, "Q4_0", 32, 18, true},
    {TensorType::q4_1, "Q4_1", 32, 20, true},
    {TensorType::q5_0, "Q5_0", 32, 22, true},
    {TensorType::q5_1, "Q5_1", 32, 24, false},
    {TensorType::q8_0, "Q8_0", 32, 34, true},
    {TensorType::q8_1, "Q8_1", 32, 36, false},
    {TensorType::q2_k, "Q2_K", 256, 84, false},
    {TensorType::q3_k, "Q3_K", 256, 110, false},
    {TensorType::q4_k, "Q4_K", 256, 144, true},
    {TensorType::q5_k, "Q5_K", 256, 176, true},
    {TensorType::q6_k, "Q6_K", 256, 210, true},
    {TensorType::q8_k, "Q8_K", 256, 292, false},
    {TensorType::i8, "I8", 1, 1, false},
    {TensorType::i16, "I16", 1, 2, false},
    {TensorType::i32, "I32", 1, 4, false},
    {TensorType::i64, "I64", 1, 8, false},
    {TensorType::f64, "F64", 1, 8, false},
    {TensorType::bf16, "BF16", 1, 2, true},
};

}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  }
  return std::nullopt;
}

const TensorTypeInfo& tensor_type_info(TensorType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  return kTypes[0];  // unreachable for valid enum values
}

std::string_view tensor_type_name(TensorType type) { return tensor_type_info(type).name; }

std::optional<TensorType> parse_tensor_type(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& t : kTypes) {
    if (t.name == upper) return t.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> row_bytes(TensorType type, uint64_t n) {
  const auto& info = tensor_type_info(type);
  if (n % info.block_size != 0) return std::nullopt;
  return n / info.block_size * info.type_size;
}

}  // namespace keel::engine
