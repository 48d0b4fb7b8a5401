#include "engine/model_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/hash.h"
#include "engine/gguf.h"
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
    float lowest = (*embedding)[0], highest = lowest;
    for (float v : *embedding) {
      lowest = std::min(lowest, v);
      highest = std::max(highest, v);
    }
    if (highest - lowest <= 1e-6f) return "the embedding is degenerate: every dimension has the same value";
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
  float lowest = logits.empty() ? 0 : logits[0], highest = lowest;
  for (float l : logits) {
    if (!std::isfinite(l)) return "the logits have non-finite values";
    lowest = std::min(lowest, l);
    highest = std::max(highest, l);
  }
  // Every token scoring the same (all-zero or constant weights) is not a model.
  if (highest - lowest <= 1e-6f * std::max(1.0f, std::fabs(highest))) {
    return fmt::format("the outputs are degenerate: every token scores {} (all-zero or constant weights?)", highest);
  }
  *detail = fmt::format("{} prompt tokens, greedy continuation {}", prompt.size(),
                        fmt::join(result->tokens, " "));
  return {};
}

}  // namespace

Result<ModelCheck> check_model(const std::string& path, const CheckProgress& progress) {
  // Mapping refuses anything but a regular file; the header is parsed (magic first) before any
  // hashing, so a large file that is not a model costs nothing.
  ModelCheck check;
  auto model = Model::load(path);
  if (!model.ok()) {
    auto file = GgufFile::open(path);
    if (!file.ok()) return file.status();  // not a regular file, or not a GGUF at all
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::unavailable(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  }
  check.file_size = static_cast<uint64_t>(st.st_size);
  check.file_mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  KEEL_ASSIGN_OR_RETURN(auto digest, sha256_file(path, [&](uint64_t done, uint64_t total) {
                          if (progress) progress("hashing", done, total);
                        }));
  check.sha256 = to_hex(digest);
  if (!model.ok()) {
    check.detail = model.status().message();
    return check;
  }
  check.architecture = (*model)->config().arch_name;
  if (progress) progress("self-test", 0, 1);
  std::string detail;
  std::string failure = self_test(**model, &detail);
  check.passed = failure.empty();
  check.detail = failure.empty() ? detail : failure;
  return check;
}

}  // namespace keel::engine
