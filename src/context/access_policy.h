// Row and field policy for passages: which documents a reader may see, and which fields of a
// document's text are masked for them. Applied to every document before it is split and ranked,
// so a denied passage never reaches ranking, a model or an answer.
//
// Contract:
// - check_access() allows a document when it belongs to the reader's tenant and the reader
//   holds at least one of the document's roles; a document with no roles is readable by nobody
//   (an ACL is never empty by accident). Each decision names its rule: "tenant.row_filter" or
//   "document.acl".
// - mask_fields() replaces the value of each line "<field>: <value>" (the field name compared
//   without case, an optional list marker "- " before it) whose field is in `fields` with
//   "[masked]"; every other byte is kept. Free text that mentions a value is not recognised:
//   restricted values belong on field lines (or in columns the warehouse protects).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keel::context {

struct Reader {
  std::string tenant;
  std::vector<std::string> roles;
};

struct AccessControl {
  std::string tenant;
  std::vector<std::string> roles;  //!< any one of them may read
};

struct AccessDecision {
  bool allowed = false;
  std::string rule;    //!< "tenant.row_filter" | "document.acl"
  std::string detail;  //!< why, for the audit
};

AccessDecision check_access(const AccessControl& acl, const Reader& reader);

struct MaskedText {
  std::string text;
  std::vector<std::string> masked;  //!< the fields masked (as `fields` names them), once each, in order
};

MaskedText mask_fields(std::string_view text, const std::vector<std::string>& fields);

}  // namespace keel::context
