#include "engine/gguf_writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>

namespace keel::engine {

namespace {

template <typename T>
std::vector<uint8_t> bytes_of(T v) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

size_t scalar_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean: return 1;
    case GgufValueType::u16:
    case GgufValueType::i16: return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32: return 4;
    default: return 8;
  }
}

}  // namespace

void GgufWriter::set(std::string key, Value v) {
  for (auto& [k, existing] : values_) {
    if (k == key) {
      existing = std::move(v);
      return;
    }
  }
  values_.emplace_back(std::move(key), std::move(v));
}

void GgufWriter::set_u32(std::string key, uint32_t v) { set(std::move(key), {GgufValueType::u32, {}, bytes_of(v)}); }
void GgufWriter::set_i32(std::string key, int32_t v) { set(std::move(key), {GgufValueType::i32, {}, bytes_of(v)}); }
void GgufWriter::set_u64(std::string key, uint64_t v) { set(std::move(key), {GgufValueType::u64, {}, bytes_of(v)}); }
void GgufWriter::set_f32(std::string key, float v) { set(std::move(key), {GgufValueType::f32, {}, bytes_of(v)}); }
void GgufWriter::set_bool(std::string key, bool v) {
  set(std::move(key), {GgufValueType::boolean, {}, bytes_of<uint8_t>(v ? 1 : 0)});
}

void GgufWriter::set_string(std::string key, std::string v) {
  Value value{GgufValueType::string};
  value.string = std::move(v);
  set(std::move(key), std::move(value));
}

void GgufWriter::set_strings(std::string key, std::vector<std::string> v) {
  Value value{GgufValueType::array, GgufValueType::string};
  value.array_size = v.size();
  value.strings = std::move(v);
  set(std::move(key), std::move(value));
}

void GgufWriter::set_f32s(std::string key, std::vector<float> v) {
  Value value{GgufValueType::array, GgufValueType::f32};
  value.array_size = v.size();
  value.array.resize(v.size() * 4);
  std::memcpy(value.array.data(), v.data(), value.array.size());
  set(std::move(key), std::move(value));
}

void GgufWriter::set_i32s(std::string key, std::vector<int32_t> v) {
  Value value{GgufValueType::array, GgufValueType::i32};
  value.array_size = v.size();
  value.array.resize(v.size() * 4);
  std::memcpy(value.array.data(), v.data(), value.array.size());
  set(std::move(key), std::move(value));
}

void GgufWriter::copy_value(std::string key, const GgufValue& v) {
  Value value{v.type};
  if (v.type == GgufValueType::string) {
    value.string = std::string(*v.as_string());
  } else if (v.type == GgufValueType::array) {
    value.element_type = v.element_type;
    value.array_size = v.array_size;
    if (v.element_type == GgufValueType::string) {
      for (auto s : v.strings()) value.strings.emplace_back(s);
    } else {
      // Re-encode element by element in the original width.
      size_t step = scalar_bytes(v.element_type);
      value.array.resize(v.array_size * step);
      if (v.element_type == GgufValueType::f32 || v.element_type == GgufValueType::f64) {
        auto f = *v.floats();
        for (uint64_t i = 0; i < v.array_size; ++i) {
          if (step == 4) {
            float x = static_cast<float>(f[i]);
            std::memcpy(value.array.data() + i * 4, &x, 4);
          } else {
            std::memcpy(value.array.data() + i * 8, &f[i], 8);
          }
        }
      } else {
        auto n = *v.ints();
        for (uint64_t i = 0; i < v.array_size; ++i) {
          std::memcpy(value.array.data() + i * step, &n[i], step);  // little-endian truncation
        }
      }
    }
  } else if (v.type == GgufValueType::f32) {
    value.scalar = bytes_of(static_cast<float>(*v.as_float()));
  } else if (v.type == GgufValueType::f64) {
    value.scalar = bytes_of(*v.as_float());
  } else {
    uint64_t raw = v.type == GgufValueType::u64 ? *v.as_uint() : static_cast<uint64_t>(*v.as_int());
    value.scalar.resize(scalar_bytes(v.type));
    std::memcpy(value.scalar.data(), &raw, value.scalar.size());
  }
  set(std::move(key), std::move(value));
}

Status GgufWriter::check_tensor(const std::string& name, const std::vector<uint64_t>& dims,
                                TensorType type, size_t n_bytes) const {
  if (name.empty() || name.size() > kGgufMaxTensorName) {
    return Status::invalid_argument(fmt::format("tensor name '{}' must be 1..64 bytes", name));
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return Status::already_exists(fmt::format("tensor '{}' added twice", name));
  }
  if (dims.empty() || dims.size() > 4) {
    return Status::invalid_argument(fmt::format("tensor '{}' needs 1..4 dimensions", name));
  }
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  auto row = row_bytes(type, dims[0]);
  if (!row) {
    return Status::invalid_argument(fmt::format("tensor '{}': row of {} is not a whole number of "
                                                "{} blocks",
                                                name, dims[0], tensor_type_name(type)));
  }
  uint64_t expected = *row * (n / dims[0]);
  if (expected != n_bytes) {
    return Status::invalid_argument(
        fmt::format("tensor '{}': {} bytes given, {} expected", name, n_bytes, expected));
  }
  return Status();
}

Status GgufWriter::add_tensor(std::string name, std::vector<uint64_t> dims, TensorType type,
                              std::span<const uint8_t> bytes) {
  KEEL_RETURN_IF_ERROR(check_tensor(name, dims, type, bytes.size()));
  Tensor t{std::move(name), std::move(dims), type, std::vector<uint8_t>(bytes.begin(), bytes.end()), {}};
  t.bytes = t.owned;
  tensors_.push_back(std::move(t));
  tensors_.back().bytes = tensors_.back().owned;
  return Status();
}

Status GgufWriter::add_tensor_view(std::string name, std::vector<uint64_t> dims, TensorType type,
                                   std::span<const uint8_t> bytes) {
  KEEL_RETURN_IF_ERROR(check_tensor(name, dims, type, bytes.size()));
  tensors_.push_back({std::move(name), std::move(dims), type, {}, bytes});
  return Status();
}

Status GgufWriter::add_f32(std::string name, std::vector<uint64_t> dims,
                           std::span<const float> values) {
  return add_tensor(std::move(name), std::move(dims), TensorType::f32,
                    {reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4});
}

uint32_t GgufWriter::alignment() const {
  for (const auto& [k, v] : values_) {
    if (k == "general.alignment" && v.scalar.size() >= 4) {
      uint32_t a;
      std::memcpy(&a, v.scalar.data(), 4);
      if (a && (a & (a - 1)) == 0) return a;
    }
  }
  return kGgufDefaultAlignment;
}

// Everything before the tensor data (header, metadata, tensor infos, padding), and each
// tensor's offset in the data section.
std::vector<uint8_t> GgufWriter::header(std::vector<uint64_t>* offsets, uint64_t* data_size) const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, values_.size());
  for (const auto& [key, v] : values_) {
    put_string(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(v.type));
    if (v.type == GgufValueType::string) {
      put_string(out, v.string);
    } else if (v.type == GgufValueType::array) {
      put<uint32_t>(out, static_cast<uint32_t>(v.element_type));
      put<uint64_t>(out, v.array_size);
      if (v.element_type == GgufValueType::string) {
        for (const auto& s : v.strings) put_string(out, s);
      } else {
        out.insert(out.end(), v.array.begin(), v.array.end());
      }
    } else {
      out.insert(out.end(), v.scalar.begin(), v.scalar.end());
    }
  }
  const uint64_t align = alignment();
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offsets->push_back(offset);
    offset = (offset + t.bytes.size() + align - 1) / align * align;
  }
  out.resize((out.size() + align - 1) / align * align, 0);
  *data_size = offset;
  return out;
}

std::vector<uint8_t> GgufWriter::serialize() const {
  std::vector<uint64_t> offsets;
  uint64_t data_size = 0;
  std::vector<uint8_t> out = header(&offsets, &data_size);
  const size_t data_start = out.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(data_start + offsets[i], 0);
    out.insert(out.end(), tensors_[i].bytes.begin(), tensors_[i].bytes.end());
  }
  out.resize(data_start + data_size, 0);
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  std::vector<uint64_t> offsets;
  uint64_t data_size = 0;
  std::vector<uint8_t> head = header(&offsets, &data_size);
  std::string temp = path + ".tmp";
  FILE* f = std::fopen(temp.c_str(), "wbe");
  if (!f) return Status::unavailable(fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
  // Tensor data is streamed from where it lives; only the header is built in memory.
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
  static const uint8_t kZeros[64] = {};
  uint64_t written = 0;
  for (size_t i = 0; ok && i < tensors_.size(); ++i) {
    for (uint64_t pad = offsets[i] - written; ok && pad > 0;) {
      size_t n = std::min<uint64_t>(pad, sizeof kZeros);
      ok = std::fwrite(kZeros, 1, n, f) == n;
      pad -= n;
      written += n;
    }
    const auto& bytes = tensors_[i].bytes;
    ok = ok && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    written += bytes.size();
  }
  for (uint64_t pad = data_size - written; ok && pad > 0;) {
    size_t n = std::min<uint64_t>(pad, sizeof kZeros);
    ok = std::fwrite(kZeros, 1, n, f) == n;
    pad -= n;
  }
  ok = std::fflush(f) == 0 && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(temp.c_str());
    return Status::unavailable(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::unavailable(fmt::format("cannot rename {} to {}: {}", temp, path, std::strerror(errno)));
  }
  return Status();
}

}  // namespace keel::engine
