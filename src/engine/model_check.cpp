#include "engine/model_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/hash.h"
#include "core/version.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"

namespace keel::engine {

namespace {

// Runs the model once; returns an empty string when everything checked out, else the reason.
std::string self_test(const Model& model, std::string* detail) {
  const ModelConfig& c = model.config();
  const std::string probe = "Hello world. The quick brown fox jumps over the lazy dog.";
  auto ids = model.tokenizer().encode(probe, false, false);
  if (ids.empty()) return "the tokenizer produced no tokens for a plain English sentence";
  if (model.tokenizer().vocab().type() != VocabType::wpm &&
      model.tokenizer().decode(ids, true, false) != probe) {
    return "the tokenizer does not round-trip a plain English sentence";
  }
  ContextOptions options;
  options.n_ctx = 128;
  options.n_batch = 64;
  auto context = Context::create(model, options);
  if (!context.ok()) return context.status().message();
  if (c.arch == Architecture::bert) {
    auto embedding = (*context)->embed(model.tokenizer().encode(probe, true, false));
    if (!embedding.ok()) return embedding.status().message();
    double norm = 0;
    for (float v : *embedding) {
      if (!std::isfinite(v)) return "the embedding has non-finite values";
      norm += static_cast<double>(v) * v;
    }
    if (std::fabs(norm - 1.0) > 1e-3) return fmt::format("the embedding's norm is {}", std::sqrt(norm));
    *detail = fmt::format("embedding of {} dimensions", embedding->size());
    return {};
  }
  auto seq = (*context)->add_sequence();
  if (!seq.ok()) return seq.status().message();
  GenerateOptions g;
  g.max_tokens = 4;
  g.sampling.temperature = 0;
  g.ignore_eos = true;
  auto prompt = model.tokenizer().encode(probe, true, false);
  auto result = generate(**context, *seq, prompt, g);
  if (!result.ok()) return result.status().message();
  auto logits = (*context)->logits(0);
  for (float l : logits) {
    if (!std::isfinite(l)) return "the logits have non-finite values";
  }
  *detail = fmt::format("{} prompt tokens, greedy continuation {}", prompt.size(),
                        fmt::join(result->tokens, " "));
  return {};
}

}  // namespace

Result<contract::ModelRecord> check_model(const std::string& path, bool write_record) {
  KEEL_ASSIGN_OR_RETURN(auto digest, sha256_file(path));
  KEEL_ASSIGN_OR_RETURN(auto stamp, contract::stat_file(path));
  contract::ModelRecord record;
  record.file = std::filesystem::path(path).filename().string();
  record.file_size = stamp.size;
  record.file_mtime_ns = stamp.mtime_ns;
  record.sha256 = to_hex(digest);
  record.engine_version = std::string(keel_version());
  record.format = "gguf";
  record.checked_at_unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  auto model = Model::load(path);
  if (!model.ok()) {
    record.self_test_passed = false;
    record.self_test_detail = model.status().message();
  } else {
    record.architecture = (*model)->config().arch_name;
    std::string detail;
    std::string failure = self_test(**model, &detail);
    record.self_test_passed = failure.empty();
    record.self_test_detail = failure.empty() ? detail : failure;
  }
  if (write_record) KEEL_RETURN_IF_ERROR(contract::write_model_record(path, record));
  return record;
}

}  // namespace keel::engine
