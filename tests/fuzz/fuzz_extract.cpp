// Fuzz target: document text extraction (plain text, Markdown, HTML and PDF) and chunking.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "context/chunker.h"
#include "context/extract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using keel::context::DocumentKind;
  // The first byte picks the format; the rest is the document.
  const DocumentKind kinds[] = {DocumentKind::text, DocumentKind::markdown, DocumentKind::html, DocumentKind::pdf};
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = keel::context::extract_text(kinds[data[0] % 4], bytes, "fuzz");
  if (r.ok()) {
    for (const auto& c : keel::context::chunk_text(r->text)) (void)r->page_at(c.start);
  }
  return 0;
}
