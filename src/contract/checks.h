// The named checks `keel plan` runs over a parsed spec: known deployment mistakes, each with a
// stable id (K001...), refused before anything runs.
//
// Contract:
// - run_checks() reports every check: a `pass` entry when it found nothing, otherwise one
//   `warn` or `fail` entry per offending place, with the spec path (and line) it points at.
// - Ids never change meaning; new checks get new ids. The catalog lists them all.
// - Checks read the filesystem only for K009 (model files and their compatibility records).
// - A spec is accepted when no check fails; warnings are allowed.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "contract/spec.h"

namespace keel::contract {

enum class CheckStatus { pass, warn, fail };
std::string_view check_status_name(CheckStatus s);

struct CheckResult {
  std::string id;  //!< "K001"
  CheckStatus status = CheckStatus::pass;
  std::string message;
  std::string spec_path;
  int line = 0;
};

struct CheckInfo {
  std::string_view id;
  std::string_view title;
  std::string_view why;
};

//! Every check Keel knows, in id order.
std::span<const CheckInfo> check_catalog();

std::vector<CheckResult> run_checks(const Spec& spec);

bool any_failed(const std::vector<CheckResult>& results);

//! Where a spec path (e.g. a model path) resolves: the spec's folder first, then the current
//! directory; returns the spec-folder form when neither exists.
std::string resolve_spec_path(const Spec& spec, const std::string& path);

}  // namespace keel::contract
