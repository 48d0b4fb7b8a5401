// Citations: the [n] markers an answer uses, checked against what was actually retrieved and
// against the document as it is now.
//
// A citation names a retrieved chunk ([n]) and a byte range of the document's extracted text
// inside it: the whole chunk when a model wrote [n], one sentence when the answer was extracted.
//
// Contract: a citation is valid only when (1) n names a chunk retrieved for this question,
// (2) its range lies inside that chunk, and (3) the SHA-256 of the document's extracted text at
// the chunk's byte range, re-read from the file now, equals the hash stored at indexing. The
// quote of a valid citation is the document's own bytes at the cited range, and its sha256 is
// the hash of that quote. Invalid citations are kept aside with the reason and counted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "context/retriever.h"

namespace keel::context {

struct Citation {
  int source = 0;  //!< the n of [n]
  std::string doc;
  std::string uri;  //!< keel-doc:<path>?range=<start>-<end>&sha256=<hash of that text>
  uint64_t start = 0, end = 0;
  int page = 0;
  std::string sha256;
  std::string quote;
};

struct RejectedCitation {
  int source = 0;
  std::string reason;
};

//! What an answer cites: source n, and the document byte range [start, end) it points at.
struct CitedSpan {
  int source = 0;
  uint64_t start = 0, end = 0;
};

struct CitationCheck {
  std::vector<Citation> valid;
  std::vector<RejectedCitation> rejected;
  int emitted() const { return static_cast<int>(valid.size() + rejected.size()); }
  //! valid / emitted; 1 when nothing was cited.
  double validity() const { return emitted() ? static_cast<double>(valid.size()) / emitted() : 1.0; }
};

//! Source numbers in citation markers ("[1]", "[2, 3]", "[1][4]"), in order of first use.
std::vector<int> cited_sources(const std::string& answer);

//! The whole retrieved chunk for each source number (a number out of range keeps an empty span,
//! which check_citations rejects as not retrieved).
std::vector<CitedSpan> whole_chunks(const std::vector<int>& sources, const std::vector<RetrievedChunk>& retrieved);

//! Checks each cited span; documents are re-read from docs_root.
CitationCheck check_citations(const std::vector<CitedSpan>& spans, const std::vector<RetrievedChunk>& retrieved,
                              const std::string& docs_root);

//! The resource URI of a chunk (also what the MCP context provider serves).
std::string chunk_uri(const std::string& doc_path, uint64_t start, uint64_t end, const std::string& sha256);

}  // namespace keel::context
