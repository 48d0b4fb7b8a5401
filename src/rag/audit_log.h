// The append-only audit table: every decision an answer took (identity, routing, each policy
// rule allowed, denied or applied) and its evidence (rule "evidence": metric, catalog version,
// SQL hash and the parameters' hash; documents, byte spans and quote hashes; limitation codes),
// one row per decision, in the warehouse's `keel_audit` table.
//
// Contract:
// - install_audit_table() (as the database's owner) creates keel_audit if it is missing, with a
//   trigger that refuses UPDATE, DELETE and TRUNCATE for everyone, the owner included, and
//   grants `writer_role` INSERT only (it can neither read nor change what was written).
// - append() writes every decision of one answer in one statement: all of them or none. A
//   failure is the database's (unavailable when it cannot be reached); the caller must not
//   return an answer whose decisions were not written.
// - Not thread-safe: one AuditLog per thread.
#pragma once

#include <memory>
#include <string>

#include "core/json.h"
#include "core/status.h"

namespace keel::rag {

struct AuditEntry {
  std::string answer_id;
  std::string principal;  //!< "" when the asker was not authenticated
  std::string tenant;
  std::string outcome;    //!< answered | limited | declined | refused | failed
  std::string question_sha256;
  Json decisions = Json::array();  //!< [{"rule", "decision", "detail"}]
};

[[nodiscard]] Status install_audit_table(const std::string& owner_conninfo,
                                         const std::string& writer_role = "keel_reader");

class AuditLog {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AuditLog>> connect(const std::string& conninfo);
  ~AuditLog();

  [[nodiscard]] Status append(const AuditEntry& entry);

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::rag
