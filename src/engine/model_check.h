// The engine's self-test of a model file: the file is a GGUF the engine loads, its
// hyperparameters are usable, its tokenizer round-trips, and a forward pass gives finite numbers
// that are not degenerate (greedy tokens for generative models, a unit-length vector for
// embedding models). `keel check-model` turns the result into the compatibility record that
// `keel plan` (check K009) reads; the engine itself knows nothing of records.
//
// Contract:
// - Files that are not regular (a FIFO, a device) are refused before a byte is read, and a file
//   that does not start with the GGUF magic is refused before it is hashed: both are errors
//   (invalid_argument), with no result.
// - A GGUF that fails to load or to compute is a result with passed = false and the reason.
// - progress, when set, hears of the hashing (large files take seconds).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"

namespace keel::engine {

struct ModelCheck {
  uint64_t file_size = 0;
  int64_t file_mtime_ns = 0;
  std::string sha256;
  std::string architecture;  //!< empty when the file did not load
  bool passed = false;
  std::string detail;  //!< what passed, or why it failed
};

using CheckProgress = std::function<void(const std::string& stage, uint64_t done, uint64_t total)>;

[[nodiscard]] Result<ModelCheck> check_model(const std::string& path, const CheckProgress& progress = {});

}  // namespace keel::engine
