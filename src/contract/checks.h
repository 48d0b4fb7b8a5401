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

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "contract/spec.h"
#include "core/result.h"

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

//! 127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, ::, a routable address, a name)
//! is reachable beyond this machine.
bool is_loopback_host(std::string_view host);

//! Check K018 for a listener that a command opens (`keel mcp serve --http`, `keel serve
//! --host`): a fail result when `host` is beyond loopback and the spec holds confidential or
//! restricted data under egress: none without `deployment.remote_readers: allowed`; nullopt
//! when serving there is within the contract. `listener` names it in the message.
std::optional<CheckResult> check_listener_exposure(const Spec& spec, std::string_view listener,
                                                   std::string_view host);

//! Where a spec path (e.g. a model path) resolves: the spec's folder first, then the current
//! directory; returns the spec-folder form when neither exists.
std::string resolve_spec_path(const Spec& spec, const std::string& path);

//! The spec's document folder (its first data source of kind folder), resolved as above;
//! invalid_argument when it has none.
[[nodiscard]] Result<std::string> document_folder(const Spec& spec);

}  // namespace keel::contract
