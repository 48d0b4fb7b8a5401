// How keel ask, keel run and keel eval print an answer: for people (answer, numbered citations
// with quotes, what was dropped, metrics) and as JSON (answer, citations, retrieved, metrics).
#pragma once

#include <string>

#include "assistant/research_assistant.h"
#include "core/json.h"

namespace keel::app {

Json answer_json(const assistant::Answer& answer);
//! Everything after the streamed answer text: citations, dropped citations, metrics.
std::string answer_footer(const assistant::Answer& answer);
//! The notice printed when Keel's bundled tiny demo models are in use.
std::string tiny_model_notice();

}  // namespace keel::app
