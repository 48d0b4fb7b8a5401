// Fuzz target: the edge runtime's untrusted media: a YUV4MPEG2 stream (edge/video_source.h), a
// labelled image set (edge/image_set.h) and a signed program update's payload
// (edge/program_update.h). No crash, no exception; every frame read has width x height bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "edge/image_set.h"
#include "edge/program_update.h"
#include "edge/video_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto video = keel::edge::Y4mReader::from_bytes(text); video.ok()) {
    for (int i = 0; i < 64; ++i) {
      auto frame = video->next();
      if (!frame.ok() || !*frame) break;
      if ((*frame)->luma.size() != static_cast<size_t>((*frame)->width * (*frame)->height)) std::abort();
    }
  }
  if (auto set = keel::edge::parse_image_set(text, "fuzz"); set.ok()) {
    if (set->pixels.size() != set->count() * set->image_bytes()) std::abort();
  }
  if (auto update = keel::edge::parse_program_update(text); update.ok()) {
    if (update->terms.version < 1 || update->program_sha256.size() != 64) std::abort();
  }
  return 0;
}
