#include "context/embedder.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/clock.h"
#include "core/hash.h"

namespace keel::context {

Result<std::unique_ptr<Embedder>> Embedder::open(const std::string& model_path, int threads) {
  std::unique_ptr<Embedder> e(new Embedder());
  KEEL_ASSIGN_OR_RETURN(e->model_, engine::Model::load(model_path));
  if (e->model_->config().arch != engine::Architecture::bert) {
    return Status::invalid_argument(fmt::format("{} is a {} model; retrieval needs a BERT-family "
                                                "embedding model (e.g. all-MiniLM, bge-small)",
                                                model_path, e->model_->config().arch_name));
  }
  engine::ContextOptions options;
  options.n_threads = threads;
  options.n_ctx = e->model_->config().n_ctx_train;
  options.n_batch = std::max<int64_t>(512, options.n_ctx);
  KEEL_ASSIGN_OR_RETURN(e->context_, engine::Context::create(*e->model_, options));
  KEEL_ASSIGN_OR_RETURN(auto digest, sha256_file(model_path));
  e->model_id_ = fmt::format("{}@{}", std::filesystem::path(model_path).filename().string(),
                             to_hex(digest).substr(0, 16));
  return e;
}

Result<std::vector<std::vector<float>>> Embedder::embed(const std::vector<std::string>& texts) {
  const int64_t start = monotonic_now_ns();
  const auto& tokenizer = model_->tokenizer();
  const int64_t limit = context_->options().n_ctx;
  std::vector<std::vector<engine::TokenId>> tokens;
  tokens.reserve(texts.size());
  for (const auto& text : texts) {
    auto ids = tokenizer.encode(text, true, false);
    if (static_cast<int64_t>(ids.size()) > limit) {
      engine::TokenId last = ids.back();  // keep the closing [SEP]
      ids.resize(limit - 1);
      ids.push_back(last);
    }
    stats_.tokens += static_cast<int64_t>(ids.size());
    tokens.push_back(std::move(ids));
  }
  KEEL_ASSIGN_OR_RETURN(auto vectors, context_->embed_batch(tokens));
  stats_.texts += static_cast<int64_t>(texts.size());
  stats_.seconds += (monotonic_now_ns() - start) / 1e9;
  return vectors;
}

}  // namespace keel::context
