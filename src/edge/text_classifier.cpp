#include "edge/text_classifier.h"

#include <fmt/format.h>

#include "core/utf8.h"

namespace keel::edge {

Result<TextClassifier> TextClassifier::load(const std::string& manifest_path,
                                            const Ed25519PublicKey& trusted) {
  KEEL_ASSIGN_OR_RETURN(PublishedModel model, verify_published_model(manifest_path, trusted));
  auto graph = parse_onnx(model.model_bytes);
  if (!graph.ok())
    return Status(graph.status().code(),
                  fmt::format("{}: {}", model.model_path, graph.status().message()));
  const auto& in = graph->inputs;
  if (in.size() != 1 || in[0].element_type != "float32" || in[0].dims.size() != 2 ||
      in[0].dims[1].size != model.manifest.featurizer.dims) {
    return Status::invalid_argument(fmt::format(
        "{}: a text classifier takes one float32 input [batch, {}] (its featurizer's width)",
        model.model_path, model.manifest.featurizer.dims));
  }
  const auto& out = graph->outputs;
  if (out.size() != 1 || out[0].dims.empty() ||
      out[0].dims.back().size != static_cast<int64_t>(model.manifest.labels.size())) {
    return Status::invalid_argument(fmt::format("{}: its output is not one probability per label",
                                                model.model_path));
  }
  KEEL_ASSIGN_OR_RETURN(GraphRuntime runtime, GraphRuntime::prepare(std::move(*graph)));
  std::string sha = model.manifest.model_asset()->sha256;
  model.model_bytes.clear();
  model.model_bytes.shrink_to_fit();
  return TextClassifier(std::move(model), std::move(runtime), std::move(sha));
}

Result<Classification> TextClassifier::classify(std::string_view text) const {
  if (first_invalid_utf8(text))
    return Status::invalid_argument("the document is not valid UTF-8");
  Tensor features;
  features.data = hashed_bow_features(text, model_.manifest.featurizer);
  features.shape = {1, static_cast<int64_t>(features.data.size())};
  std::map<std::string, Tensor, std::less<>> inputs;
  inputs[runtime_.graph().inputs[0].name] = std::move(features);
  KEEL_ASSIGN_OR_RETURN(auto outputs, runtime_.run(inputs));
  const Tensor& p = outputs.at(0);
  if (p.data.size() != model_.manifest.labels.size())
    return Status::internal("the model returned the wrong number of probabilities");
  Classification c;
  c.probabilities = p.data;
  size_t best = 0;
  for (size_t i = 1; i < p.data.size(); ++i) {
    if (p.data[i] > p.data[best]) best = i;
  }
  c.label = model_.manifest.labels[best];
  c.confidence = p.data[best];
  return c;
}

}  // namespace keel::edge
