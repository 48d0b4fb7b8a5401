// Fuzz target: a signed model manifest and the page's form body, both untrusted
// (edge/model_manifest.h, net/form_encoding.h). No crash, no exception; an accepted manifest
// names a model asset by its hash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edge/model_manifest.h"
#include "net/form_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto s = keel::edge::parse_signed_manifest(text); s.ok()) {
    (void)keel::edge::parse_manifest(s->payload);
  }
  if (auto m = keel::edge::parse_manifest(text); m.ok()) {
    const auto* asset = m->model_asset();
    if (!asset || asset->sha256.size() != 64 || asset->path.find(asset->sha256) == std::string::npos)
      std::abort();
  }
  (void)keel::net::parse_form(text);
  return 0;
}
