// `keel run` for the local-research scenario: the spec's plan, executed in order — install the
// egress guard (egress: none), refuse if a check fails, choose models that fit memory (with the
// spec's approved fallbacks), index the spec's document folder, then answer a question from the
// read-only store.
//
// Contract: nothing but the egress isolation runs when a check fails (failed_precondition naming
// the checks; the checks read model files, so they run after the guard). Under
// egress: none the process enters its own network namespace (where permitted) and installs the
// seccomp guard before any model or document is opened, and the run reports the bytes its
// namespace transmitted. Must be called before the process starts threads. Progress lines go to
// the callback; the streamed answer to on_text.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "assistant/research_assistant.h"
#include "context/indexer.h"
#include "contract/network_namespace.h"
#include "contract/spec.h"
#include "core/result.h"
#include "engine/memory_fit.h"

namespace keel::assistant {

struct LocalResearchRunOptions {
  std::string question;
  std::string store_path;  //!< default: $XDG_CACHE_HOME (or ~/.cache)/keel/<spec name>/store.db
  int threads = 0;
  AnswerMode answer_mode = AnswerMode::automatic;
  std::function<void(const std::string&)> progress;
  std::function<void(std::string_view)> on_text;
};

struct LocalResearchRun {
  bool egress_guarded = false;
  //! Bytes the run sent on any network interface, read from the kernel's counters of its private
  //! network namespace (egress: none); nullopt when it could not have one (outbound_note says why).
  std::optional<contract::TransmitCounters> outbound;
  std::string outbound_note;
  engine::FitDecision generate_model;
  std::optional<engine::FitDecision> embed_model;
  context::IndexReport index;
  std::string store_path;
  std::string answer_mode_reason;  //!< how the answer was made, and why
  Answer answer;
};

[[nodiscard]] Result<LocalResearchRun> run_local_research(const contract::Spec& spec,
                                                          const LocalResearchRunOptions& options);

//! The question to ask when none is given: the first line of `sample_question.txt` beside the
//! document folder (where `keel eval` finds `questions.json`); not_found naming the file.
[[nodiscard]] Result<std::string> sample_question(const contract::Spec& spec);


}  // namespace keel::assistant
