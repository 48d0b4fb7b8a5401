// A read-only memory map of a whole file: model weights are used in place from it.
//
// Contract: open() maps the file privately and read-only; the mapping lives as long as the
// object (movable, not copyable). An empty file maps to an empty span. Errors are Status
// values naming the path (not_found, permission_denied, invalid_argument for a non-regular file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace keel {

class MappedFile {
 public:
  [[nodiscard]] static Result<MappedFile> open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  //! Hints that the whole file will be read soon (MADV_WILLNEED); harmless if ignored.
  void prefetch() const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace keel
