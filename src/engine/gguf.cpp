#include "engine/gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace keel::engine {

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: return "u8";
    case GgufValueType::i8: return "i8";
    case GgufValueType::u16: return "u16";
    case GgufValueType::i16: return "i16";
    case GgufValueType::u32: return "u32";
    case GgufValueType::i32: return "i32";
    case GgufValueType::f32: return "f32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::u64: return "u64";
    case GgufValueType::i64: return "i64";
    case GgufValueType::f64: return "f64";
  }
  return "unknown";
}

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxKeys = 1 << 20;
constexpr uint64_t kMaxTensors = 1 << 20;
constexpr uint64_t kMaxStringBytes = 1 << 30;
constexpr uint32_t kMaxDims = 4;

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean: return 1;
    case GgufValueType::u16:
    case GgufValueType::i16: return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32: return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64: return 8;
    default: return 0;
  }
}

bool valid_value_type(uint32_t t) { return t <= 12; }

}  // namespace

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::u16:
    case GgufValueType::i16:
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::u64:
    case GgufValueType::i64: return true;
    default: return false;
  }
}

std::optional<int64_t> GgufValue::as_int() const {
  if (type == GgufValueType::boolean) return static_cast<int64_t>(u_);
  if (!is_integer()) return std::nullopt;
  if (type == GgufValueType::u64 && u_ > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return i_;
}

std::optional<uint64_t> GgufValue::as_uint() const {
  auto v = as_int();
  if (type == GgufValueType::u64) return u_;
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

std::optional<double> GgufValue::as_float() const {
  if (is_float()) return f_;
  if (type == GgufValueType::u64) return static_cast<double>(u_);
  if (is_integer()) return static_cast<double>(i_);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type != GgufValueType::boolean) return std::nullopt;
  return u_ != 0;
}

std::optional<std::string_view> GgufValue::as_string() const {
  if (type != GgufValueType::string) return std::nullopt;
  return s_;
}

namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

double element_as_double(GgufValueType t, const uint8_t* p) {
  switch (t) {
    case GgufValueType::u8: return load<uint8_t>(p);
    case GgufValueType::i8: return load<int8_t>(p);
    case GgufValueType::u16: return load<uint16_t>(p);
    case GgufValueType::i16: return load<int16_t>(p);
    case GgufValueType::u32: return load<uint32_t>(p);
    case GgufValueType::i32: return load<int32_t>(p);
    case GgufValueType::f32: return load<float>(p);
    case GgufValueType::boolean: return load<uint8_t>(p) != 0;
    case GgufValueType::u64: return static_cast<double>(load<uint64_t>(p));
    case GgufValueType::i64: return static_cast<double>(load<int64_t>(p));
    case GgufValueType::f64: return load<double>(p);
    default: return 0;
  }
}

int64_t element_as_int(GgufValueType t, const uint8_t* p) {
  switch (t) {
    case GgufValueType::u8: return load<uint8_t>(p);
    case GgufValueType::i8: return load<int8_t>(p);
    case GgufValueType::u16: return load<uint16_t>(p);
    case GgufValueType::i16: return load<int16_t>(p);
    case GgufValueType::u32: return load<uint32_t>(p);
    case GgufValueType::i32: return load<int32_t>(p);
    case GgufValueType::boolean: return load<uint8_t>(p) != 0;
    case GgufValueType::u64: return static_cast<int64_t>(load<uint64_t>(p));
    case GgufValueType::i64: return load<int64_t>(p);
    default: return 0;
  }
}

}  // namespace

std::optional<std::vector<double>> GgufValue::floats() const {
  if (!is_array() || scalar_size(element_type) == 0) return std::nullopt;
  std::vector<double> out(array_size);
  size_t step = scalar_size(element_type);
  for (uint64_t i = 0; i < array_size; ++i) out[i] = element_as_double(element_type, array_data_ + i * step);
  return out;
}

std::optional<std::vector<int64_t>> GgufValue::ints() const {
  if (!is_array() || scalar_size(element_type) == 0 || element_type == GgufValueType::f32 ||
      element_type == GgufValueType::f64) {
    return std::nullopt;
  }
  std::vector<int64_t> out(array_size);
  size_t step = scalar_size(element_type);
  for (uint64_t i = 0; i < array_size; ++i) out[i] = element_as_int(element_type, array_data_ + i * step);
  return out;
}

// Bounds-checked reader over the file bytes; every read says what it was reading on failure.
class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, std::string name)
      : bytes_(bytes), name_(std::move(name)) {}

  Status parse(GgufFile& file) {
    uint64_t n_tensors = 0, n_kv = 0;
    KEEL_RETURN_IF_ERROR(read_header(file, &n_tensors, &n_kv));
    KEEL_RETURN_IF_ERROR(read_metadata(file, n_kv));
    KEEL_RETURN_IF_ERROR(read_alignment(file));
    KEEL_RETURN_IF_ERROR(read_tensor_infos(file, n_tensors));
    KEEL_RETURN_IF_ERROR(locate_tensor_data(file, n_tensors));
    return check_tensors_do_not_overlap(file);
  }

 private:
  Status fail(const std::string& message) const {
    return Status::invalid_argument(fmt::format("{}: {}", name_, message));
  }
  // The bytes end before what the header or a tensor info declares: the file is damaged or was
  // cut short, which is data_loss rather than a malformed request.
  Status fail_truncated(const std::string& message) const {
    return Status::data_loss(fmt::format("{}: {}", name_, message));
  }
  Status truncated(const std::string& what) const {
    return fail_truncated(fmt::format("file is truncated while reading {} at byte {}", what, pos_));
  }

  // Magic, version, tensor and metadata counts.
  Status read_header(GgufFile& file, uint64_t* n_tensors, uint64_t* n_kv) {
    uint32_t magic = 0;
    if (bytes_.size() < 4) {
      return fail(fmt::format("file is too short to be GGUF ({} bytes)", bytes_.size()));
    }
    magic = load<uint32_t>(bytes_.data());
    if (magic != kMagic) {
      return Status::invalid_argument(fmt::format(
          "{}: not a GGUF file (magic bytes {:02x} {:02x} {:02x} {:02x}, expected 'GGUF')", name_,
          bytes_[0], bytes_[1], bytes_[2], bytes_[3]));
    }
    pos_ = 4;
    uint32_t version = 0;
    KEEL_RETURN_IF_ERROR(read(&version, "version"));
    if (version == 1) return fail("GGUF version 1 files are not supported; convert it again");
    if (version > 0xFFFF) return fail("big-endian GGUF files are not supported");
    if (version != 2 && version != 3) return fail(fmt::format("unsupported GGUF version {}", version));
    file.version_ = version;
    KEEL_RETURN_IF_ERROR(read(n_tensors, "tensor count"));
    KEEL_RETURN_IF_ERROR(read(n_kv, "metadata count"));
    if (*n_tensors > kMaxTensors) return fail(fmt::format("absurd tensor count {}", *n_tensors));
    if (*n_kv > kMaxKeys) return fail(fmt::format("absurd metadata count {}", *n_kv));
    return Status();
  }

  Status read_metadata(GgufFile& file, uint64_t n_kv) {
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string_view key;
      KEEL_RETURN_IF_ERROR(read_string(&key, fmt::format("metadata key #{}", i)));
      if (key.empty()) return fail(fmt::format("metadata key #{} is empty", i));
      std::string k(key);
      if (file.metadata_index_.count(k)) return fail(fmt::format("metadata key '{}' appears twice", k));
      uint32_t type = 0;
      KEEL_RETURN_IF_ERROR(read(&type, "type of metadata key '" + k + "'"));
      GgufValue value;
      KEEL_RETURN_IF_ERROR(read_value(type, &value, k, /*depth=*/0));
      file.metadata_index_[k] = file.metadata_.size();
      file.metadata_.emplace_back(std::move(k), std::move(value));
    }
    return Status();
  }

  Status read_alignment(GgufFile& file) const {
    auto it = file.metadata_index_.find("general.alignment");
    if (it == file.metadata_index_.end()) return Status();
    auto a = file.metadata_[it->second].second.as_uint();
    if (!a || *a == 0 || (*a & (*a - 1)) != 0 || *a > (1u << 20)) {
      return fail("metadata key 'general.alignment' must be a power of two");
    }
    file.alignment_ = static_cast<uint32_t>(*a);
    return Status();
  }

  Status read_tensor_infos(GgufFile& file, uint64_t n_tensors) {
    file.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensor t;
      KEEL_RETURN_IF_ERROR(read_tensor_info(i, file.alignment_, &t));
      if (file.tensor_index_.count(t.name)) {
        return fail(fmt::format("tensor '{}' appears twice", t.name));
      }
      file.tensor_index_[t.name] = file.tensors_.size();
      file.tensors_.push_back(std::move(t));
    }
    return Status();
  }

  // The data section starts at the first aligned offset after the tensor infos; every tensor's
  // bytes must lie inside it.
  Status locate_tensor_data(GgufFile& file, uint64_t n_tensors) const {
    uint64_t data_offset = (pos_ + file.alignment_ - 1) / file.alignment_ * file.alignment_;
    if (n_tensors > 0 && data_offset > bytes_.size()) {
      return fail_truncated("file ends before the tensor data section");
    }
    file.data_offset_ = data_offset;
    const uint64_t data_size = bytes_.size() > data_offset ? bytes_.size() - data_offset : 0;
    for (auto& t : file.tensors_) {
      if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
        return fail_truncated(fmt::format(
            "tensor '{}': data [{}, {}) runs past the end of the file (data section is {} "
            "bytes); the file is truncated or corrupt",
            t.name, t.offset, t.offset + t.n_bytes, data_size));
      }
      t.data = bytes_.data() + data_offset + t.offset;
    }
    return Status();
  }

  Status check_tensors_do_not_overlap(const GgufFile& file) const {
    std::vector<const GgufTensor*> by_offset;
    for (const auto& t : file.tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensor* prev = by_offset[i - 1];
      if (prev->offset + prev->n_bytes > by_offset[i]->offset) {
        return fail(fmt::format("tensors '{}' and '{}' overlap", prev->name, by_offset[i]->name));
      }
    }
    return Status();
  }

  template <typename T>
  Status read(T* out, const std::string& what) {
    if (bytes_.size() - pos_ < sizeof(T)) return truncated(what);
    *out = load<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return Status();
  }

  Status read_string(std::string_view* out, const std::string& what) {
    uint64_t len = 0;
    KEEL_RETURN_IF_ERROR(read(&len, what + " (length)"));
    if (len > bytes_.size() - pos_) {
      return fail_truncated(fmt::format("{}: string length {} exceeds the file", what, len));
    }
    if (len > kMaxStringBytes) {
      return fail(fmt::format("{}: string length {} exceeds the file", what, len));
    }
    *out = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return Status();
  }

  Status read_value(uint32_t type, GgufValue* v, const std::string& key, int depth) {
    if (!valid_value_type(type)) {
      return fail(fmt::format("metadata key '{}' has unknown value type {}", key, type));
    }
    v->type = static_cast<GgufValueType>(type);
    const std::string what = "metadata key '" + key + "'";
    switch (v->type) {
      case GgufValueType::string: return read_string(&v->s_, what);
      case GgufValueType::array: {
        if (depth > 0) return fail(what + ": nested arrays are not supported");
        uint32_t element_type = 0;
        KEEL_RETURN_IF_ERROR(read(&element_type, what + " (array element type)"));
        if (!valid_value_type(element_type) || element_type == 9) {
          return fail(fmt::format("{}: unknown array element type {}", what, element_type));
        }
        v->element_type = static_cast<GgufValueType>(element_type);
        KEEL_RETURN_IF_ERROR(read(&v->array_size, what + " (array length)"));
        if (v->element_type == GgufValueType::string) {
          // Each string needs at least its 8-byte length: bound the count before reserving.
          if (v->array_size > (bytes_.size() - pos_) / 8) {
            return fail_truncated(
                fmt::format("{}: array length {} exceeds the file", what, v->array_size));
          }
          v->strings_.reserve(v->array_size);
          for (uint64_t i = 0; i < v->array_size; ++i) {
            std::string_view s;
            KEEL_RETURN_IF_ERROR(read_string(&s, fmt::format("{}[{}]", what, i)));
            v->strings_.push_back(s);
          }
        } else {
          size_t step = scalar_size(v->element_type);
          if (v->array_size > (bytes_.size() - pos_) / step) {
            return fail_truncated(
                fmt::format("{}: array length {} exceeds the file", what, v->array_size));
          }
          v->array_data_ = bytes_.data() + pos_;
          pos_ += v->array_size * step;
        }
        return Status();
      }
      default: {
        size_t n = scalar_size(v->type);
        if (bytes_.size() - pos_ < n) return truncated(what);
        const uint8_t* p = bytes_.data() + pos_;
        pos_ += n;
        if (v->type == GgufValueType::f32) {
          v->f_ = load<float>(p);
        } else if (v->type == GgufValueType::f64) {
          v->f_ = load<double>(p);
        } else if (v->type == GgufValueType::u64) {
          v->u_ = load<uint64_t>(p);
          v->i_ = static_cast<int64_t>(v->u_);
        } else {
          v->i_ = element_as_int(v->type, p);
          v->u_ = static_cast<uint64_t>(v->i_);
        }
        return Status();
      }
    }
  }

  Status read_tensor_info(uint64_t index, uint32_t alignment, GgufTensor* t) {
    std::string_view name;
    KEEL_RETURN_IF_ERROR(read_string(&name, fmt::format("tensor #{} name", index)));
    if (name.empty() || name.size() > kGgufMaxTensorName) {
      return fail(fmt::format("tensor #{} has a name of {} bytes (1..{} allowed)", index,
                              name.size(), kGgufMaxTensorName));
    }
    t->name = std::string(name);
    const std::string what = "tensor '" + t->name + "'";
    uint32_t n_dims = 0;
    KEEL_RETURN_IF_ERROR(read(&n_dims, what + " (dimension count)"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return fail(fmt::format("{} has {} dimensions (1..{} allowed)", what, n_dims, kMaxDims));
    }
    t->n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      KEEL_RETURN_IF_ERROR(read(&dim, what + " (dimensions)"));
      if (dim == 0 || dim > (uint64_t{1} << 40)) {
        return fail(fmt::format("{} has an absurd dimension {} = {}", what, d, dim));
      }
      if (t->n_elements > (uint64_t{1} << 50) / dim) {
        return fail(fmt::format("{} has too many elements", what));
      }
      t->n_elements *= dim;
      t->dims.push_back(dim);
    }
    uint32_t type_id = 0;
    KEEL_RETURN_IF_ERROR(read(&type_id, what + " (type)"));
    auto info = tensor_type_info(type_id);
    if (!info) return fail(fmt::format("{} has unknown or unsupported type id {}", what, type_id));
    t->type = info->type;
    KEEL_RETURN_IF_ERROR(read(&t->offset, what + " (offset)"));
    if (t->offset % alignment != 0) {
      return fail(fmt::format("{}: offset {} is not aligned to {}", what, t->offset, alignment));
    }
    auto row = row_bytes(t->type, t->dims[0]);
    if (!row) {
      return fail(fmt::format("{}: row length {} is not a multiple of the {} block size {}", what,
                              t->dims[0], info->name, info->block_size));
    }
    t->n_bytes = *row * (t->n_elements / t->dims[0]);
    return Status();
  }

  std::span<const uint8_t> bytes_;
  std::string name_;
  uint64_t pos_ = 0;
};

Result<std::unique_ptr<GgufFile>> GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->bytes_ = bytes;
  file->name_ = name;
  GgufParser parser(bytes, std::move(name));
  KEEL_RETURN_IF_ERROR(parser.parse(*file));
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(MappedFile mapping, MappedFile::open(path));
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->mapping_ = std::move(mapping);
  file->bytes_ = file->mapping_.bytes();
  file->name_ = path;
  GgufParser parser(file->bytes_, path);
  KEEL_RETURN_IF_ERROR(parser.parse(*file));
  return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensor* GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Status missing(const std::string& file, std::string_view key) {
  return Status::not_found(fmt::format("{}: metadata key '{}' is missing", file, key));
}

Status wrong_type(const std::string& file, std::string_view key, const char* wanted,
                  const GgufValue& v) {
  return Status::invalid_argument(fmt::format("{}: metadata key '{}' should be {}, is {}", file,
                                              key, wanted, gguf_value_type_name(v.type)));
}

}  // namespace

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  auto s = v->as_string();
  if (!s) return wrong_type(name_, key, "a string", *v);
  return std::string(*s);
}

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  auto u = v->as_uint();
  if (!u) return wrong_type(name_, key, "a non-negative integer", *v);
  return *u;
}

Result<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  auto f = v->as_float();
  if (!f) return wrong_type(name_, key, "a number", *v);
  return *f;
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  auto b = v->as_bool();
  if (!b) return wrong_type(name_, key, "a bool", *v);
  return *b;
}

Result<uint64_t> GgufFile::get_uint_or(std::string_view key, uint64_t fallback) const {
  if (!find(key)) return fallback;
  return get_uint(key);
}

Result<double> GgufFile::get_float_or(std::string_view key, double fallback) const {
  if (!find(key)) return fallback;
  return get_float(key);
}

Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  if (!find(key)) return fallback;
  return get_bool(key);
}

Result<std::string> GgufFile::get_string_or(std::string_view key, std::string fallback) const {
  if (!find(key)) return fallback;
  return get_string(key);
}

}  // namespace keel::engine
