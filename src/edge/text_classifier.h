// A document classifier from a verified, published model: features (the manifest's
// featurizer), the ONNX graph on the portable CPU runtime, and the labels. The server side of
// the browser classifier (`keel web serve`'s remote fallback) and `keel eval browser-classifier`
// run it; the browser runs the same file in ONNX Runtime Web.
//
// Contract:
// - load() verifies the manifest and the model bytes (model_manifest.h) and parses exactly the
//   bytes it verified; it refuses a model whose input is not [batch, dims] float32 or whose
//   output width is not the number of labels.
// - classify() is thread-safe. It refuses text that is not valid UTF-8 (invalid_argument);
//   probabilities are in the manifest's label order and sum to 1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/signature.h"
#include "edge/graph_runtime.h"
#include "edge/model_manifest.h"

namespace keel::edge {

struct Classification {
  std::string label;
  float confidence = 0;
  std::vector<float> probabilities;
};

class TextClassifier {
 public:
  [[nodiscard]] static Result<TextClassifier> load(const std::string& manifest_path,
                                                   const Ed25519PublicKey& trusted);

  [[nodiscard]] Result<Classification> classify(std::string_view text) const;

  const ModelManifest& manifest() const { return model_.manifest; }
  const std::string& model_sha256() const { return model_sha256_; }
  const PublishedModel& published() const { return model_; }

 private:
  TextClassifier(PublishedModel model, GraphRuntime runtime, std::string sha)
      : model_(std::move(model)), runtime_(std::move(runtime)), model_sha256_(std::move(sha)) {}
  PublishedModel model_;
  GraphRuntime runtime_;
  std::string model_sha256_;
};

}  // namespace keel::edge
