// Runs a prepared ONNX graph on the CPU with Keel's portable float32 kernels (cpu_kernels.h;
// reference quality, any CPU). The operators are those small classifiers and mobile CNNs need:
// Gemm, MatMul, Add, Sub, Mul, Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid, HardSwish,
// Softmax, Flatten, Reshape, Concat, Identity, Dropout (inference: identity), Conv (2-D, grouped
// and depthwise, padding, strides, dilations, auto_pad), BatchNormalization, MaxPool,
// AveragePool, GlobalAveragePool and GlobalMaxPool, and QuantizeLinear / DequantizeLinear (int8
// and uint8, per tensor or per axis) for models quantized as QDQ: quantized values are computed
// exactly (round half to even, saturated) and held as float32, so a QDQ graph gives the results
// its quantization defines, at float speed.
//
// Contract:
// - prepare() checks every node before anything runs, then folds each BatchNormalization that
//   follows a Conv with constant parameters into the Conv's weights and bias
//   (folded_batch_norms() says how many), and turns each DequantizeLinear of constants (int8
//   weights) into a float32 initializer: an operator, domain or attribute value
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

  //! The shape of every value the graph computes (inputs included) for inputs of these shapes,
  //! found by running the graph once on zeros (what preparation plans memory and work from).
  [[nodiscard]] Result<std::map<std::string, std::vector<int64_t>, std::less<>>> value_shapes(
      const std::map<std::string, std::vector<int64_t>, std::less<>>& input_shapes) const;

  const OnnxGraph& graph() const { return graph_; }
  int folded_batch_norms() const { return folded_batch_norms_; }

 private:
  explicit GraphRuntime(OnnxGraph graph) : graph_(std::move(graph)) {}
  Result<std::vector<Tensor>> evaluate(const std::map<std::string, Tensor, std::less<>>& inputs,
                                       std::map<std::string, Tensor, std::less<>>& values) const;
  OnnxGraph graph_;
  int folded_batch_norms_ = 0;
};

}  // namespace keel::edge
