// Text extraction from documents: plain text, Markdown, HTML (libxml2) and PDF (poppler), into
// one UTF-8 string per document. Citations point at byte ranges of this string, so extraction
// is deterministic: the same file always gives the same text.
//
// Contract:
// - Plain text and Markdown are their own extracted text (byte for byte); they must be valid
//   UTF-8 and contain no NUL byte (a binary file), else the document is refused with the reason.
// - HTML: visible text only (script, style, template and comments are dropped), block elements
//   separated by blank lines, runs of whitespace collapsed; the <title> becomes the title.
// - PDF: the text of each page in order; `pages` maps byte ranges to 1-based page numbers.
// - Anything unreadable, encrypted, empty or over max_bytes is an error naming the file and
//   the reason; extraction never crashes on malformed input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::context {

enum class DocumentKind { text, markdown, html, pdf };
std::string_view document_kind_name(DocumentKind kind);

//! The kind a file name suggests (by extension), or nullopt for files Keel does not index.
std::optional<DocumentKind> kind_from_path(std::string_view path);

struct PageRange {
  uint64_t start = 0;  //!< byte offset in the extracted text
  uint64_t end = 0;
  int page = 0;        //!< 1-based
};

struct ExtractedText {
  DocumentKind kind = DocumentKind::text;
  std::string text;
  std::string title;
  std::vector<PageRange> pages;  //!< empty for documents without pages
  //! The page holding byte `offset`, or 0 when the document has no pages.
  int page_at(uint64_t offset) const;
};

inline constexpr uint64_t kDefaultMaxDocumentBytes = 64ull << 20;

//! Extracts from bytes already read (the fuzz target's entry point).
[[nodiscard]] Result<ExtractedText> extract_text(DocumentKind kind, std::string_view bytes,
                                                 std::string_view name = "document");
//! Reads and extracts a file; refuses files over max_bytes without reading them.
[[nodiscard]] Result<ExtractedText> extract_file(const std::string& path,
                                                 uint64_t max_bytes = kDefaultMaxDocumentBytes);

}  // namespace keel::context
