// GGUF model files (versions 2 and 3): metadata and tensors, read in place from a memory map.
//
// Contract:
// - GgufFile::open() maps the file and validates everything before returning: magic, version,
//   every metadata value (types, string and array lengths inside the file), every tensor info
//   (name unique and at most 64 bytes, 1..4 dimensions, positive sizes without overflow, a
//   known type, rows a whole number of blocks, offset aligned, data inside the file, no two
//   tensors overlapping). Any violation is an error naming the key or tensor — never a crash,
//   whatever the bytes.
// - Bytes that end before what the header or a tensor info declares (a truncated file) are
//   data_loss; every other violation of the format is invalid_argument.
// - Values and tensor data are views into the mapping: valid while the GgufFile lives.
// - parse() does the same over bytes the caller owns (used by tests and the fuzz target).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "core/result.h"
#include "engine/tensor_type.h"

namespace keel::engine {

enum class GgufValueType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

std::string_view gguf_value_type_name(GgufValueType t);

//! One metadata value. Scalars are decoded; arrays keep their element type and a view of their
//! bytes (string arrays are decoded into views).
class GgufValue {
 public:
  GgufValueType type = GgufValueType::u8;

  bool is_integer() const;
  bool is_float() const { return type == GgufValueType::f32 || type == GgufValueType::f64; }

  //! Integer value (any integer type, bool as 0/1); nullopt for other types or a negative
  //! value read as unsigned.
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;
  //! Float value (f32/f64, or any integer type).
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays.
  GgufValueType element_type = GgufValueType::u8;
  uint64_t array_size = 0;
  bool is_array() const { return type == GgufValueType::array; }
  //! Elements of a string array (empty for other types).
  const std::vector<std::string_view>& strings() const { return strings_; }
  //! Elements of a numeric array converted to double / int64; nullopt for non-numeric arrays.
  std::optional<std::vector<double>> floats() const;
  std::optional<std::vector<int64_t>> ints() const;

 private:
  friend class GgufParser;
  uint64_t u_ = 0;
  int64_t i_ = 0;
  double f_ = 0;
  std::string_view s_;
  const uint8_t* array_data_ = nullptr;  // numeric arrays
  std::vector<std::string_view> strings_;
};

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;  //!< ne0 first: dims[0] is the row length
  TensorType type = TensorType::f32;
  uint64_t offset = 0;  //!< relative to the data section
  uint64_t n_bytes = 0;
  uint64_t n_elements = 0;
  const uint8_t* data = nullptr;

  uint64_t rows() const { return dims.empty() ? 0 : n_elements / dims[0]; }
};

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxTensorName = 64;

class GgufFile {
 public:
  [[nodiscard]] static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  //! Parses bytes the caller keeps alive for the GgufFile's lifetime.
  [[nodiscard]] static Result<std::unique_ptr<GgufFile>> parse(std::span<const uint8_t> bytes,
                                                               std::string name = "<memory>");

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::string& path() const { return name_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // Typed lookups: not_found when the key is absent, invalid_argument (naming the key and
  // both types) when it has another type.
  [[nodiscard]] Result<std::string> get_string(std::string_view key) const;
  [[nodiscard]] Result<uint64_t> get_uint(std::string_view key) const;
  [[nodiscard]] Result<double> get_float(std::string_view key) const;
  [[nodiscard]] Result<bool> get_bool(std::string_view key) const;
  //! The value if present and of the right kind, else `fallback` (a wrong type still errs).
  [[nodiscard]] Result<uint64_t> get_uint_or(std::string_view key, uint64_t fallback) const;
  [[nodiscard]] Result<double> get_float_or(std::string_view key, double fallback) const;
  [[nodiscard]] Result<bool> get_bool_or(std::string_view key, bool fallback) const;
  [[nodiscard]] Result<std::string> get_string_or(std::string_view key, std::string fallback) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  //! Asks the kernel to read the mapped file ahead (no-op for parse()d bytes).
  void prefetch() const { mapping_.prefetch(); }
  const GgufTensor* tensor(std::string_view name) const;

 private:
  friend class GgufParser;
  GgufFile() = default;
  MappedFile mapping_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace keel::engine
