// Answers a question from the policy documents an asker may read: each document the warehouse
// returns is checked against the asker's tenant and roles (context/access_policy.h) and its
// restricted fields masked before it is split into passages and ranked; the answer quotes the
// best passage sentence by sentence, with the document id, byte span and hash of each quote.
//
// Contract:
// - Pure over the documents handed in (no I/O, no model): a denied document is only counted in
//   a decision ("document.acl" / "tenant.row_filter", deny) and never ranked or quoted.
// - enforce_policy = false skips the check and the masking here (an evaluation of the
//   warehouse's own policy alone).
// - Quotes are byte ranges of the document's text as this asker sees it (after masking); the
//   evidence's document_sha256 is of that text, quote_sha256 of the quoted bytes.
// - found is false when no readable passage covers at least min_coverage of the question's
//   weighted terms (nothing is quoted then).
#pragma once

#include <string>
#include <vector>

#include "context/access_policy.h"
#include "core/json.h"
#include "semantic/warehouse.h"

namespace keel::rag {

struct DocumentSearchOptions {
  bool enforce_policy = true;
  double min_coverage = 0.34;
  int passages_ranked = 5;
};

struct DocumentAnswer {
  bool found = false;
  std::string text;        //!< the quoted answer, labelled as extracted
  Json evidence = Json::array();   //!< [{"document", "title", "classification", "start", "end", "quote", "quote_sha256", "document_sha256"}]
  Json decisions = Json::array();  //!< [{"rule", "decision", "detail"}]
  int documents_readable = 0, documents_denied = 0;
  double coverage = 0;
};

DocumentAnswer answer_from_documents(std::string_view question,
                                     const std::vector<semantic::WarehouseDocument>& documents,
                                     const context::Reader& reader,
                                     const std::vector<std::string>& masked_fields,
                                     const DocumentSearchOptions& options = {});

}  // namespace keel::rag
