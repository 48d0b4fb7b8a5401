#include "edge/image_set.h"

#include <fmt/format.h>

#include "core/file_io.h"
#include "core/json.h"

namespace keel::edge {
namespace {

constexpr std::string_view kMagic = "KIMG1\n";
constexpr uint64_t kMaxHeaderBytes = 16ull << 20;
constexpr uint64_t kMaxSetBytes = 1ull << 30;
constexpr int64_t kMaxSide = 1 << 14;

}  // namespace

std::span<const uint8_t> ImageSet::image(size_t i) const {
  const size_t n = image_bytes();
  return {reinterpret_cast<const uint8_t*>(pixels.data()) + i * n, n};
}

Result<ImageSet> parse_image_set(std::string_view bytes, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument(fmt::format("{}: {}", name, why));
  };
  if (bytes.size() < kMagic.size() + 8 || bytes.substr(0, kMagic.size()) != kMagic)
    return bad("not a Keel image set (KIMG1; tools/train_vision_model.py writes them)");
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i)
    length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[kMagic.size() + i])) << (8 * i);
  const size_t header_at = kMagic.size() + 8;
  if (length > kMaxHeaderBytes || length > bytes.size() - header_at)
    return bad("its header length is out of range (truncated?)");
  auto header = parse_json(bytes.substr(header_at, length));
  if (!header.ok() || !header->is_object()) return bad("its header is not a JSON object");
  ImageSet set;
  int64_t count = 0;
  try {
    set.width = header->at("width").get<int64_t>();
    set.height = header->at("height").get<int64_t>();
    set.channels = header->at("channels").get<int64_t>();
    count = header->at("count").get<int64_t>();
    set.labels = header->at("labels").get<std::vector<std::string>>();
    set.targets = header->at("targets").get<std::vector<int64_t>>();
  } catch (const std::exception&) {
    return bad("its header needs width, height, channels, count, labels and targets");
  }
  if (set.width < 1 || set.height < 1 || set.width > kMaxSide || set.height > kMaxSide ||
      (set.channels != 1 && set.channels != 3))
    return bad(fmt::format("unsupported image size {}x{}x{}", set.width, set.height, set.channels));
  if (set.labels.empty()) return bad("it names no labels");
  if (count < 0 || static_cast<size_t>(count) != set.targets.size())
    return bad(fmt::format("count {} but {} targets", count, set.targets.size()));
  for (int64_t t : set.targets) {
    if (t < 0 || t >= static_cast<int64_t>(set.labels.size()))
      return bad(fmt::format("target {} is not an index into its {} labels", t, set.labels.size()));
  }
  const std::string_view pixels = bytes.substr(header_at + length);
  if (pixels.size() != static_cast<size_t>(count) * set.image_bytes())
    return bad(fmt::format("{} pixel bytes for {} images of {} bytes (truncated?)", pixels.size(),
                           count, set.image_bytes()));
  set.pixels = std::string(pixels);
  return set;
}

Result<ImageSet> load_image_set(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxSetBytes));
  return parse_image_set(bytes, path);
}

}  // namespace keel::edge
