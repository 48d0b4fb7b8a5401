// Reading a scenario spec from YAML into a typed Spec.
//
// Contract:
// - Every problem is reported, not just the first: unknown keys (with a "did you mean" when a
//   known key is close), wrong types, bad enum values (listing the allowed ones), missing
//   required keys, duplicate keys, an unsupported `keel:` version, YAML syntax errors, invalid
//   UTF-8 and files over kMaxSpecBytes. Each error names the YAML path and the 1-based line:
//     authority.tools[0].effect: expected one of read|write|irreversible, got 'delete' (line 14)
// - A spec with any error yields no Spec. Parsing never throws and never crashes on any input.
// - Deployment mistakes in a well-formed spec are not errors here; see contract/checks.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contract/spec.h"
#include "core/result.h"

namespace keel::contract {

inline constexpr size_t kMaxSpecBytes = 1 << 20;

struct SpecError {
  std::string path;  //!< YAML path, e.g. "deployment.models[1].role"; "" for the document
  int line = 0;      //!< 1-based; 0 when unknown
  std::string message;
  //! "path: message (line N)"
  std::string to_string() const;
};

using SpecErrors = std::vector<SpecError>;
//! The spec, or every error found in it (sorted by line; never empty).
using ParsedSpec = Result<Spec, SpecErrors>;

//! `base_dir` is where relative paths in the spec resolve (the spec file's folder).
[[nodiscard]] ParsedSpec parse_spec_text(std::string_view yaml, std::string base_dir = ".",
                                         std::string file_name = "");
[[nodiscard]] ParsedSpec parse_spec_file(const std::string& path);

//! The same, folded into one Status (invalid_argument, one error per line; not_found when the
//! file is missing).
[[nodiscard]] Result<Spec> load_spec(const std::string& path);

}  // namespace keel::contract
