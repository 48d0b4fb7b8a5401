// Labelled image sets (`.kimg`): the held-out images a vision model is evaluated on, and the
// small canary set a device runs before it trusts an update (scenario mobile-vision). Written by
// tools/train_vision_model.py.
//
// File: "KIMG1\n", the header's length (8 bytes, little-endian), the header (JSON: width,
// height, channels, count, labels, targets), then `count` images of height x width x channels
// bytes (row-major, channels last).
//
// Contract: parse_image_set() refuses a file whose magic, header or size is wrong, whose
// targets are not `count` indices into `labels`, or whose pixel bytes are not exactly
// count x height x width x channels (invalid_argument naming the file and what is wrong).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::edge {

struct ImageSet {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<std::string> labels;
  std::vector<int64_t> targets;  //!< one label index per image
  std::string pixels;            //!< all images, back to back

  size_t count() const { return targets.size(); }
  size_t image_bytes() const { return static_cast<size_t>(width * height * channels); }
  std::span<const uint8_t> image(size_t i) const;
};

[[nodiscard]] Result<ImageSet> parse_image_set(std::string_view bytes, std::string_view name);
[[nodiscard]] Result<ImageSet> load_image_set(const std::string& path);

}  // namespace keel::edge
