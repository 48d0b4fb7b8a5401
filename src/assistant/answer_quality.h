// The generator's measured answer quality: `keel eval local-research --record` evaluates a
// generative model on the question set (answers in its own words, citations judged against the
// gold spans) and writes the figures beside the model, "<model path>.keel-eval.json". The
// assistant reads it to decide whether the model may answer in its own words: below the
// quality floor it answers extractively (extractive_answer.h) and says why.
//
// File: {"keel_eval_record": 1, "scenario": "local-research", "file": "m.gguf", "file_size": N,
//        "sha256": "<hex of the model file>", "engine_version": "0.1.0", "questions": N,
//        "answerable": N, "answered_correctly": 0..1, "unanswerable_declined": 0..1,
//        "measured_at_unix_s": N}
//
// Contract: reading never throws; a missing record is not_found, a malformed one data_loss. A
// record speaks for a model file only when size and SHA-256 match (the file is hashed only when
// a record exists, so a model without one costs nothing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace keel::assistant {

struct AnswerQualityRecord {
  std::string scenario = "local-research";
  std::string file;  //!< file name only
  uint64_t file_size = 0;
  std::string sha256;
  std::string engine_version;
  int questions = 0;
  int answerable = 0;
  double answered_correctly = 0;     //!< share of answerable questions answered correctly (evaluation.h)
  double unanswerable_declined = 0;  //!< unanswerable questions declined
  int64_t measured_at_unix_s = 0;
};

std::string answer_quality_path(const std::string& model_path);

[[nodiscard]] Result<AnswerQualityRecord> read_answer_quality(const std::string& model_path);
//! Fills file, file_size and sha256 from the model file, then writes atomically.
[[nodiscard]] Status write_answer_quality(const std::string& model_path, AnswerQualityRecord record);
//! The record for this model file if one exists and matches its size and SHA-256; nullopt when
//! there is none or it speaks for another file.
[[nodiscard]] Result<std::optional<AnswerQualityRecord>> current_answer_quality(const std::string& model_path);

}  // namespace keel::assistant
