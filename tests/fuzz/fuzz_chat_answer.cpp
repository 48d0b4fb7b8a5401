// Fuzz target: what a field device reads from the private cloud (route/chat_routes.h): a chat
// completion's body and its system_fingerprint. Whatever the bytes: no crash, no exception; an
// accepted fingerprint names a 64-digit lower-case hash, and an accepted answer's hash is one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "route/chat_routes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto is_hash = [](const std::string& h) {
    return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  if (auto f = keel::route::parse_fingerprint(text)) {
    if (!is_hash(f->sha256) || f->keel_version.empty()) std::abort();
  }
  auto a = keel::route::parse_chat_answer(text);
  if (a.ok() && !a->model_sha256.empty() && !is_hash(a->model_sha256)) std::abort();
  return 0;
}
