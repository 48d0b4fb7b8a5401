// Fuzz target: the GGUF reader, and what reads its metadata (model config, tokenizer).
#include <cstddef>
#include <cstdint>

#include "engine/gguf.h"
#include "engine/model_config.h"
#include "engine/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = keel::engine::GgufFile::parse({data, size});
  if (!file.ok()) return 0;
  for (const auto& [key, value] : (*file)->metadata()) {
    (void)value.as_string();
    (void)value.floats();
    (void)value.ints();
  }
  (void)keel::engine::ModelConfig::from_gguf(**file);
  auto tokenizer = keel::engine::Tokenizer::create(**file);
  if (tokenizer.ok()) {
    auto ids = (*tokenizer)->encode("Hello world 123 \xc3\xa9", true, true);
    (void)(*tokenizer)->decode(ids);
  }
  return 0;
}
