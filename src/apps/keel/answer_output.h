// How keel ask, keel run and keel eval print an answer: for people (answer, numbered citations
// with quotes, what was dropped, metrics) and as JSON (answer, citations, retrieved, metrics).
#pragma once

#include <string>
#include <vector>

#include "assistant/research_assistant.h"
#include "contract/network_namespace.h"
#include "core/json.h"

namespace keel::app {

Json answer_json(const assistant::Answer& answer);
//! The answer text when it was not streamed (extracted answers and declines), else "".
std::string answer_unstreamed_text(const assistant::Answer& answer);
//! Everything after the answer text: citations, dropped citations, metrics.
std::string answer_footer(const assistant::Answer& answer);
//! True for Keel's bundled tiny demo models (by file name).
bool is_bundled_tiny_model(const std::string& model_path);
//! The notice printed when Keel's bundled tiny demo models are in use.
std::string tiny_model_notice(bool extracted);

//! {"bytes", "packets", "measured_by"} of what left the process's network namespace (bytes null
//! when it has none of its own).
Json outbound_json(const contract::EgressIsolation& isolation);

//! The --answer option's values: auto | generate | extract.
inline const std::vector<std::string>& answer_mode_names() {
  static const std::vector<std::string> names = {"auto", "generate", "extract"};
  return names;
}
assistant::AnswerMode parse_answer_mode(const std::string& name);

}  // namespace keel::app
