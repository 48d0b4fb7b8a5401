#include "assistant/answer_quality.h"

#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "core/file_io.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/version.h"

namespace keel::assistant {

std::string answer_quality_path(const std::string& model_path) { return model_path + ".keel-eval.json"; }

Result<AnswerQualityRecord> read_answer_quality(const std::string& model_path) {
  const std::string path = answer_quality_path(model_path);
  auto text = read_file(path, 1 << 20);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::not_found) return Status::not_found(fmt::format("no evaluation record {}", path));
    return Status::data_loss(fmt::format("{}: {}", path, text.status().message()));
  }
  auto parsed = parse_json(*text);
  if (!parsed.ok()) return Status::data_loss(fmt::format("{}: {}", path, parsed.status().message()));
  const Json& j = *parsed;
  if (!j.is_object() || !j.contains("keel_eval_record") || j["keel_eval_record"] != 1) {
    return Status::data_loss(fmt::format("{}: not a keel evaluation record", path));
  }
  try {
    AnswerQualityRecord r;
    r.scenario = j.at("scenario").get<std::string>();
    r.file = j.at("file").get<std::string>();
    r.file_size = j.at("file_size").get<uint64_t>();
    r.sha256 = j.at("sha256").get<std::string>();
    r.engine_version = j.at("engine_version").get<std::string>();
    r.questions = j.at("questions").get<int>();
    r.answerable = j.at("answerable").get<int>();
    r.answered_correctly = j.at("answered_correctly").get<double>();
    r.unanswerable_declined = j.at("unanswerable_declined").get<double>();
    r.measured_at_unix_s = j.at("measured_at_unix_s").get<int64_t>();
    return r;
  } catch (const std::exception& e) {
    return Status::data_loss(fmt::format("{}: malformed record: {}", path, e.what()));
  }
}

Status write_answer_quality(const std::string& model_path, AnswerQualityRecord r) {
  std::error_code ec;
  r.file = std::filesystem::path(model_path).filename().string();
  r.file_size = std::filesystem::file_size(model_path, ec);
  if (ec) return Status::not_found(fmt::format("cannot read {}: {}", model_path, ec.message()));
  KEEL_ASSIGN_OR_RETURN(Sha256Digest digest, sha256_file(model_path));
  r.sha256 = to_hex(digest);
  r.engine_version = std::string(keel_version());
  Json j = {{"keel_eval_record", 1},
            {"scenario", r.scenario},
            {"file", r.file},
            {"file_size", r.file_size},
            {"sha256", r.sha256},
            {"engine_version", r.engine_version},
            {"questions", r.questions},
            {"answerable", r.answerable},
            {"answered_correctly", r.answered_correctly},
            {"unanswerable_declined", r.unanswerable_declined},
            {"measured_at_unix_s", r.measured_at_unix_s}};
  return write_file_atomically(answer_quality_path(model_path), dump_json(j, 2) + "\n");
}

Result<std::optional<AnswerQualityRecord>> current_answer_quality(const std::string& model_path) {
  auto record = read_answer_quality(model_path);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::not_found) return std::optional<AnswerQualityRecord>();
    return record.status();
  }
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(model_path, ec);
  if (ec || size != record->file_size) return std::optional<AnswerQualityRecord>();
  KEEL_ASSIGN_OR_RETURN(Sha256Digest digest, sha256_file(model_path));
  if (to_hex(digest) != record->sha256) return std::optional<AnswerQualityRecord>();
  return std::optional<AnswerQualityRecord>(*std::move(record));
}

}  // namespace keel::assistant
