// Text embeddings for retrieval: a BERT-family model run by the engine, texts tokenized
// (truncated to the model's context, keeping the closing separator), packed and embedded in
// batches, with throughput counted.
//
// Contract: vectors are L2-normalised, one per text, in order. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/context.h"
#include "engine/model.h"

namespace keel::context {

struct EmbedderStats {
  int64_t texts = 0;
  int64_t tokens = 0;
  double seconds = 0;
  double texts_per_s() const { return seconds > 0 ? texts / seconds : 0; }
};

class Embedder {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Embedder>> open(const std::string& model_path, int threads = 0);

  [[nodiscard]] Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts);
  int dims() const { return static_cast<int>(model_->config().n_embd); }
  //! Identity of the model (file name and content hash prefix), stored with the vectors.
  const std::string& model_id() const { return model_id_; }
  const EmbedderStats& stats() const { return stats_; }

 private:
  Embedder() = default;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Context> context_;
  std::string model_id_;
  EmbedderStats stats_;
};

}  // namespace keel::context
