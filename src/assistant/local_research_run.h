// `keel run` for the local-research scenario: the spec's plan, executed in order — refuse if a
// check fails, install the egress guard (egress: none), choose models that fit memory (with the
// spec's approved fallbacks), index the spec's document folder, then answer a question from the
// read-only store.
//
// Contract: nothing runs when a check fails (failed_precondition naming the checks). The guard
// is installed before any model or document is opened. Progress lines go to the callback;
// the streamed answer to on_text.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "assistant/research_assistant.h"
#include "context/indexer.h"
#include "contract/spec.h"
#include "core/result.h"
#include "engine/memory_fit.h"

namespace keel::assistant {

struct LocalResearchRunOptions {
  std::string question;
  std::string store_path;  //!< default: $XDG_CACHE_HOME (or ~/.cache)/keel/<spec name>/store.db
  int threads = 0;
  std::function<void(const std::string&)> progress;
  std::function<void(std::string_view)> on_text;
};

struct LocalResearchRun {
  bool egress_guarded = false;
  engine::FitDecision generate_model;
  std::optional<engine::FitDecision> embed_model;
  context::IndexReport index;
  std::string store_path;
  Answer answer;
};

[[nodiscard]] Result<LocalResearchRun> run_local_research(const contract::Spec& spec,
                                                          const LocalResearchRunOptions& options);

//! The default store location for a spec (created with mode 0700).
std::string default_store_path(const std::string& spec_name);

}  // namespace keel::assistant
