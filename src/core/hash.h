// SHA-256 (OpenSSL) and hex encoding: content addresses for documents, chunks, model files
// and idempotency keys.
//
// Contract: hashing never fails on in-memory data; sha256_file() reports I/O errors as Status
// (not_found, permission_denied, data_loss for a read error) and streams, so memory use does
// not grow with the file.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view bytes);
Sha256Digest sha256(std::span<const uint8_t> bytes);
//! Lower-case hex of sha256(bytes).
std::string sha256_hex(std::string_view bytes);

//! Incremental hashing for data that arrives in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  void update(std::span<const uint8_t> bytes);
  //! The digest; the object must not be updated afterwards.
  Sha256Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

//! Called as a file is hashed with the bytes done and the file's size (every 64 MiB and at the end).
using HashProgress = std::function<void(uint64_t done, uint64_t total)>;
//! Hashes a regular file (anything else, e.g. a FIFO or /dev/zero, is invalid_argument without a
//! byte read).
[[nodiscard]] Result<Sha256Digest> sha256_file(const std::string& path, const HashProgress& progress = {});

std::string to_hex(std::span<const uint8_t> bytes);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& bytes) {
  return to_hex(std::span<const uint8_t>(bytes.data(), N));
}
//! Decodes lower- or upper-case hex; invalid_argument on odd length or a non-hex digit.
[[nodiscard]] Result<std::vector<uint8_t>> from_hex(std::string_view hex);

}  // namespace keel
