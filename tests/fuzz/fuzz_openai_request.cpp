// Fuzz target: OpenAI request bodies (chat, completions, embeddings).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "serve/openai_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::serve::RequestLimits limits;
  (void)keel::serve::parse_completion_request(text, true, limits);
  (void)keel::serve::parse_completion_request(text, false, limits);
  (void)keel::serve::parse_embedding_request(text, limits);
  return 0;
}
