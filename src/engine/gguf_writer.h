// Writing GGUF version 3 files: for tests, for `keel quantize`, and for the recipes that make
// Keel's own tiny models. llama.cpp reads what it writes.
//
// Contract: metadata keys are written in insertion order (a repeated key replaces the earlier
// value); tensors are written in insertion order, each aligned to `general.alignment` (32 unless
// set). write() streams the file atomically (temporary file + rename). Tensor bytes are copied
// at add time unless added with add_tensor_view(), whose bytes must outlive write().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "engine/gguf.h"
#include "engine/tensor_type.h"

namespace keel::engine {

class GgufWriter {
 public:
  void set_u32(std::string key, uint32_t v);
  void set_i32(std::string key, int32_t v);
  void set_u64(std::string key, uint64_t v);
  void set_f32(std::string key, float v);
  void set_bool(std::string key, bool v);
  void set_string(std::string key, std::string v);
  void set_strings(std::string key, std::vector<std::string> v);
  void set_f32s(std::string key, std::vector<float> v);
  void set_i32s(std::string key, std::vector<int32_t> v);
  //! Copies a metadata value from another file (any type, arrays included).
  void copy_value(std::string key, const GgufValue& v);

  //! dims: ne0 (row length) first; bytes must be exactly the tensor's size for `type`.
  [[nodiscard]] Status add_tensor(std::string name, std::vector<uint64_t> dims, TensorType type,
                                  std::span<const uint8_t> bytes);
  [[nodiscard]] Status add_tensor_view(std::string name, std::vector<uint64_t> dims,
                                       TensorType type, std::span<const uint8_t> bytes);
  //! Convenience for F32 data.
  [[nodiscard]] Status add_f32(std::string name, std::vector<uint64_t> dims,
                               std::span<const float> values);

  [[nodiscard]] Status write(const std::string& path) const;
  //! The whole file in memory (tests, fuzz seeds).
  std::vector<uint8_t> serialize() const;

 private:
  struct Value {
    GgufValueType type;
    GgufValueType element_type = GgufValueType::u8;
    std::vector<uint8_t> scalar;              // little-endian bytes of a scalar
    std::string string;                       // string value
    std::vector<std::string> strings;         // string array
    std::vector<uint8_t> array;               // numeric array bytes
    uint64_t array_size = 0;
  };
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    TensorType type;
    std::vector<uint8_t> owned;
    std::span<const uint8_t> bytes;
  };
  void set(std::string key, Value v);
  [[nodiscard]] Status check_tensor(const std::string& name, const std::vector<uint64_t>& dims,
                                    TensorType type, size_t n_bytes) const;
  uint32_t alignment() const;
  std::vector<uint8_t> header(std::vector<uint64_t>* offsets, uint64_t* data_size) const;

  std::vector<std::pair<std::string, Value>> values_;
  std::vector<Tensor> tensors_;
};

}  // namespace keel::engine
