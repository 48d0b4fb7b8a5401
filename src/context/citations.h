// Citations: the [n] markers an answer uses, checked against what was actually retrieved and
// against the document as it is now.
//
// Contract: a citation is valid only when (1) n names a chunk retrieved for this question and
// (2) the SHA-256 of the document's extracted text at the chunk's byte range, re-read from the
// file now, equals the hash stored at indexing. The quote of a valid citation is that text, the
// document's own bytes. Invalid citations are kept aside with the reason and counted.
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

struct CitationCheck {
  std::vector<Citation> valid;
  std::vector<RejectedCitation> rejected;
  int emitted() const { return static_cast<int>(valid.size() + rejected.size()); }
  //! valid / emitted; 1 when nothing was cited.
  double validity() const { return emitted() ? static_cast<double>(valid.size()) / emitted() : 1.0; }
};

//! Source numbers in citation markers ("[1]", "[2, 3]", "[1][4]"), in order of first use.
std::vector<int> cited_sources(const std::string& answer);

//! Checks each cited source; documents are re-read from docs_root.
CitationCheck check_citations(const std::vector<int>& sources, const std::vector<RetrievedChunk>& retrieved,
                              const std::string& docs_root);

//! The resource URI of a chunk (also what the MCP context provider serves).
std::string chunk_uri(const std::string& doc_path, uint64_t start, uint64_t end, const std::string& sha256);

}  // namespace keel::context
