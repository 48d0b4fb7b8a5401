// Runs a prepared ONNX graph on the CPU with Keel's portable float32 kernels (reference quality,
// any CPU). The operators are those small classifiers need: Gemm, MatMul, Add, Sub, Mul, Relu,
// Sigmoid, Tanh, Softmax, Flatten, Reshape, Identity and Dropout (inference: identity).
//
// Contract:
// - prepare() checks every node before anything runs: an operator, domain or attribute value
//   it cannot execute is unimplemented, naming the node and its operator; an opset below 7 is
//   refused. A prepared runtime is immutable: run() may be called from many threads at once.
// - run() takes one tensor per graph input, by name. A missing or extra input, a wrong rank, a
//   fixed dimension that differs, or data whose size does not match the shape is
//   invalid_argument; shapes that do not broadcast or multiply are invalid_argument naming the
//   node. It returns the graph's outputs in the graph's order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "edge/onnx_graph.h"

namespace keel::edge {

class GraphRuntime {
 public:
  [[nodiscard]] static Result<GraphRuntime> prepare(OnnxGraph graph);

  [[nodiscard]] Result<std::vector<Tensor>> run(
      const std::map<std::string, Tensor, std::less<>>& inputs) const;

  const OnnxGraph& graph() const { return graph_; }

 private:
  explicit GraphRuntime(OnnxGraph graph) : graph_(std::move(graph)) {}
  OnnxGraph graph_;
};

}  // namespace keel::edge
