// Splitting extracted text into chunks for retrieval, each a byte range [start, end) of the
// document's extracted text, so a citation can point back at the exact bytes.
//
// Contract: chunks cover the text in order without overlap (whitespace between them may be
// left out), never split a UTF-8 character, prefer to end at a paragraph, then a sentence,
// then a word boundary, and are at most max_bytes long (a single longer word is cut).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "context/extract.h"

namespace keel::context {

struct ChunkRange {
  uint64_t start;
  uint64_t end;
};

struct ChunkOptions {
  uint64_t target_bytes = 700;
  uint64_t max_bytes = 1200;
  uint64_t min_bytes = 80;  //!< a shorter tail joins the previous chunk when it fits
};

std::vector<ChunkRange> chunk_text(std::string_view text, const ChunkOptions& options = {});

//! As chunk_text, but no chunk crosses from one page to the next (a citation names one page):
//! each page range is chunked on its own. Without pages, the same as chunk_text.
std::vector<ChunkRange> chunk_pages(std::string_view text, const std::vector<PageRange>& pages,
                                    const ChunkOptions& options = {});

}  // namespace keel::context
