// keel eval browser-classifier: the published document classifier on its held-out split,
// through Keel's own graph runtime (the server side of the browser app; the browser runs the
// same file in ONNX Runtime Web, and tests/web holds the two to the same labels).
//
// Reports accuracy, per-label precision and recall, the confusion matrix and the server-side
// classification latency (p50/p95). Exit 0 when every document was classified and the model
// verified under the spec's pinned key; 1 otherwise.
#pragma once

#include <string>

namespace keel::app {

struct ClassifierEvalOptions {
  std::string spec;     //!< browser-classifier spec
  std::string heldout;  //!< default: the spec's folder/browser-classifier/heldout.jsonl
  bool json = false;
};

int run_classifier_eval(const ClassifierEvalOptions& options);

}  // namespace keel::app
