#include "edge/graph_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

namespace keel::edge {

namespace {

using Values = std::map<std::string, Tensor, std::less<>>;

const std::set<std::string, std::less<>> kSupported = {
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Relu", "Sigmoid", "Tanh",
    "Softmax", "Flatten", "Reshape", "Identity", "Dropout"};

Status node_error(const Node& n, const std::string& why) {
  return Status::invalid_argument(fmt::format("node '{}' ({}): {}", n.name, n.op_type, why));
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Numpy-style broadcasting of two shapes.
Result<std::vector<int64_t>> broadcast_shape(const Node& n, const std::vector<int64_t>& a,
                                             const std::vector<int64_t>& b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return node_error(n, fmt::format("shapes {} and {} do not broadcast", shape_text(a),
                                       shape_text(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Result<Tensor> elementwise(const Node& n, const Tensor& a, const Tensor& b,
                           const std::function<float(float, float)>& f) {
  KEEL_ASSIGN_OR_RETURN(auto shape, broadcast_shape(n, a.shape, b.shape));
  Tensor out;
  out.shape = shape;
  const int64_t count = out.element_count();
  out.data.resize(static_cast<size_t>(count));
  if (a.shape == b.shape) {
    for (int64_t i = 0; i < count; ++i) out.data[i] = f(a.data[i], b.data[i]);
    return out;
  }
  const size_t rank = shape.size();
  // Strides of each operand in the output's index space (0 along broadcast dimensions).
  auto strides_for = [&](const std::vector<int64_t>& s) {
    std::vector<int64_t> st(rank, 0);
    int64_t acc = 1;
    for (size_t i = 0; i < s.size(); ++i) {
      size_t axis = rank - 1 - i;
      int64_t d = s[s.size() - 1 - i];
      st[axis] = d == 1 ? 0 : acc;
      acc *= d;
    }
    return st;
  };
  const auto sa = strides_for(a.shape), sb = strides_for(b.shape);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    out.data[i] = f(a.data[ia], b.data[ib]);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

Tensor unary(const Tensor& a, const std::function<float(float)>& f) {
  Tensor out;
  out.shape = a.shape;
  out.data.resize(a.data.size());
  std::transform(a.data.begin(), a.data.end(), out.data.begin(), f);
  return out;
}

// C[m, n] = sum_k A[m, k] * B[k, n] (with either operand read transposed).
void matmul_2d(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n,
               bool trans_a, bool trans_b, float alpha) {
  std::fill(c, c + m * n, 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * n;
    for (int64_t p = 0; p < k; ++p) {
      const float av = alpha * (trans_a ? a[p * m + i] : a[i * k + p]);
      if (av == 0.0f) continue;
      if (!trans_b) {
        const float* brow = b + p * n;
        for (int64_t j = 0; j < n; ++j) row[j] += av * brow[j];
      } else {
        for (int64_t j = 0; j < n; ++j) row[j] += av * b[j * k + p];
      }
    }
  }
}

Result<Tensor> gemm(const Node& n, const Tensor& a, const Tensor& b, const Tensor* c) {
  if (a.shape.size() != 2 || b.shape.size() != 2)
    return node_error(n, fmt::format("Gemm needs 2-D operands, got {} and {}",
                                     shape_text(a.shape), shape_text(b.shape)));
  const bool ta = n.int_attribute("transA", 0) != 0, tb = n.int_attribute("transB", 0) != 0;
  const float alpha = n.float_attribute("alpha", 1.0f), beta = n.float_attribute("beta", 1.0f);
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t kb = tb ? b.shape[1] : b.shape[0], cols = tb ? b.shape[0] : b.shape[1];
  if (k != kb)
    return node_error(n, fmt::format("inner dimensions differ: {} and {}", shape_text(a.shape),
                                     shape_text(b.shape)));
  Tensor out;
  out.shape = {m, cols};
  out.data.resize(static_cast<size_t>(m * cols));
  matmul_2d(a.data.data(), b.data.data(), out.data.data(), m, k, cols, ta, tb, alpha);
  if (c) {
    Tensor scaled = unary(*c, [beta](float v) { return beta * v; });
    KEEL_ASSIGN_OR_RETURN(auto shape, broadcast_shape(n, out.shape, c->shape));
    if (shape != out.shape)
      return node_error(n, fmt::format("C {} does not broadcast to {}", shape_text(c->shape),
                                       shape_text(out.shape)));
    return elementwise(n, out, scaled, std::plus<float>());
  }
  return out;
}

Result<Tensor> matmul(const Node& n, const Tensor& a, const Tensor& b) {
  // 2-D x 2-D, or a batch of matrices times one matrix ([..., m, k] x [k, n]).
  if (a.shape.size() < 2 || b.shape.size() != 2)
    return node_error(n, fmt::format("MatMul supports [..., m, k] x [k, n], got {} and {}",
                                     shape_text(a.shape), shape_text(b.shape)));
  const int64_t k = a.shape.back(), cols = b.shape[1];
  if (k != b.shape[0])
    return node_error(n, fmt::format("inner dimensions differ: {} and {}", shape_text(a.shape),
                                     shape_text(b.shape)));
  const int64_t rows = a.element_count() / std::max<int64_t>(k, 1);
  Tensor out;
  out.shape = a.shape;
  out.shape.back() = cols;
  out.data.resize(static_cast<size_t>(rows * cols));
  matmul_2d(a.data.data(), b.data.data(), out.data.data(), rows, k, cols, false, false, 1.0f);
  return out;
}

Result<Tensor> softmax(const Node& n, const Tensor& a, int64_t opset) {
  const int64_t rank = static_cast<int64_t>(a.shape.size());
  int64_t axis = n.int_attribute("axis", opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return node_error(n, "axis out of range");
  // Opset 13 normalises along one axis; earlier opsets over the flattened trailing axes.
  int64_t inner = 1, width = 1;
  if (opset >= 13) {
    width = a.shape[axis];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= a.shape[d];
  } else {
    for (int64_t d = axis; d < rank; ++d) width *= a.shape[d];
  }
  Tensor out;
  out.shape = a.shape;
  out.data.resize(a.data.size());
  const int64_t outer = a.element_count() / std::max<int64_t>(width * inner, 1);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const int64_t base = o * width * inner + in;
      float mx = -INFINITY;
      for (int64_t j = 0; j < width; ++j) mx = std::max(mx, a.data[base + j * inner]);
      double sum = 0;
      for (int64_t j = 0; j < width; ++j) {
        float e = std::exp(a.data[base + j * inner] - mx);
        out.data[base + j * inner] = e;
        sum += e;
      }
      for (int64_t j = 0; j < width; ++j)
        out.data[base + j * inner] = static_cast<float>(out.data[base + j * inner] / sum);
    }
  }
  return out;
}

Result<Tensor> reshape(const Node& n, const Tensor& a, const Tensor& shape) {
  if (!shape.is_int64) return node_error(n, "the shape input must be int64");
  std::vector<int64_t> dims;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.int_data.size(); ++i) {
    int64_t d = shape.int_data[i];
    if (d == 0) {
      if (i >= a.shape.size()) return node_error(n, "0 copies a dimension the input lacks");
      d = a.shape[i];
    }
    if (d == -1) {
      if (infer >= 0) return node_error(n, "more than one -1 in the shape");
      infer = static_cast<int64_t>(i);
      dims.push_back(1);
      continue;
    }
    if (d < 0) return node_error(n, "negative dimension in the shape");
    known *= d;
    dims.push_back(d);
  }
  if (infer >= 0) {
    if (known == 0 || a.element_count() % known != 0)
      return node_error(n, "the -1 dimension cannot be inferred");
    dims[infer] = a.element_count() / known;
  }
  Tensor out = a;
  out.shape = dims;
  if (out.element_count() != a.element_count())
    return node_error(n, fmt::format("cannot reshape {} to {}", shape_text(a.shape),
                                     shape_text(dims)));
  return out;
}

Result<Tensor> flatten(const Node& n, const Tensor& a) {
  const int64_t rank = static_cast<int64_t>(a.shape.size());
  int64_t axis = n.int_attribute("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return node_error(n, "axis out of range");
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= a.shape[d];
  Tensor out = a;
  out.shape = {outer, outer == 0 ? 0 : a.element_count() / outer};
  return out;
}

Status check_node(const Node& n) {
  if (!n.domain.empty() && n.domain != "ai.onnx")
    return Status::unimplemented(fmt::format(
        "node '{}' ({}) is in domain '{}', which this runtime does not execute", n.name,
        n.op_type, n.domain));
  if (!kSupported.count(n.op_type))
    return Status::unimplemented(fmt::format(
        "node '{}': operator {} is not supported by the portable CPU runtime (it runs: {})",
        n.name, n.op_type, fmt::join(kSupported, ", ")));
  auto need_inputs = [&](size_t lo, size_t hi) -> Status {
    if (n.inputs.size() < lo || n.inputs.size() > hi || n.outputs.empty())
      return Status::invalid_argument(fmt::format(
          "node '{}' ({}) has {} inputs and {} outputs", n.name, n.op_type, n.inputs.size(),
          n.outputs.size()));
    return Status();
  };
  if (n.op_type == "Gemm") return need_inputs(2, 3);
  if (n.op_type == "MatMul" || n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" ||
      n.op_type == "Reshape")
    return need_inputs(2, 2);
  if (n.op_type == "Dropout") return need_inputs(1, 3);
  return need_inputs(1, 1);
}

}  // namespace

Result<GraphRuntime> GraphRuntime::prepare(OnnxGraph graph) {
  if (graph.opset < 7) {
    return Status::unimplemented(fmt::format(
        "the model imports ONNX opset {}; this runtime runs opset 7 and later", graph.opset));
  }
  for (const auto& n : graph.nodes) KEEL_RETURN_IF_ERROR(check_node(n));
  return GraphRuntime(std::move(graph));
}

Result<std::vector<Tensor>> GraphRuntime::run(const Values& inputs) const {
  Values values;
  for (const auto& declared : graph_.inputs) {
    auto it = inputs.find(declared.name);
    if (it == inputs.end())
      return Status::invalid_argument(fmt::format("input '{}' is missing", declared.name));
    const Tensor& t = it->second;
    if (t.shape.size() != declared.dims.size())
      return Status::invalid_argument(fmt::format("input '{}' has rank {}; the model takes {}",
                                                  declared.name, t.shape.size(),
                                                  declared.dims.size()));
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] < 0 || (declared.dims[d].size >= 0 && declared.dims[d].size != t.shape[d]))
        return Status::invalid_argument(fmt::format(
            "input '{}' dimension {} is {}; the model takes {}", declared.name, d, t.shape[d],
            declared.dims[d].size));
    }
    if (static_cast<int64_t>(t.data.size()) != t.element_count())
      return Status::invalid_argument(fmt::format("input '{}' has {} values for shape {}",
                                                  declared.name, t.data.size(),
                                                  shape_text(t.shape)));
    values[declared.name] = t;
  }
  for (const auto& [name, t] : inputs) {
    if (!graph_.input(name))
      return Status::invalid_argument(fmt::format("the model has no input '{}'", name));
  }
  auto get = [&](const std::string& name) -> const Tensor* {
    if (auto it = values.find(name); it != values.end()) return &it->second;
    if (auto it = graph_.initializers.find(name); it != graph_.initializers.end())
      return &it->second;
    return nullptr;
  };
  for (const Node& n : graph_.nodes) {
    std::vector<const Tensor*> in;
    for (const auto& name : n.inputs) in.push_back(name.empty() ? nullptr : get(name));
    if (in.empty() || !in[0]) return node_error(n, "its first input has no value");
    Tensor out;
    const std::string& op = n.op_type;
    if (op == "Gemm") {
      if (!in[1]) return node_error(n, "B has no value");
      KEEL_ASSIGN_OR_RETURN(out, gemm(n, *in[0], *in[1], in.size() > 2 ? in[2] : nullptr));
    } else if (op == "MatMul") {
      if (!in[1]) return node_error(n, "B has no value");
      KEEL_ASSIGN_OR_RETURN(out, matmul(n, *in[0], *in[1]));
    } else if (op == "Add" || op == "Sub" || op == "Mul") {
      if (!in[1]) return node_error(n, "its second input has no value");
      float (*f)(float, float) = op == "Add"   ? +[](float x, float y) { return x + y; }
                                 : op == "Sub" ? +[](float x, float y) { return x - y; }
                                               : +[](float x, float y) { return x * y; };
      KEEL_ASSIGN_OR_RETURN(out, elementwise(n, *in[0], *in[1], f));
    } else if (op == "Relu") {
      out = unary(*in[0], [](float v) { return v > 0.0f ? v : 0.0f; });
    } else if (op == "Sigmoid") {
      out = unary(*in[0], [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    } else if (op == "Tanh") {
      out = unary(*in[0], [](float v) { return std::tanh(v); });
    } else if (op == "Softmax") {
      KEEL_ASSIGN_OR_RETURN(out, softmax(n, *in[0], graph_.opset));
    } else if (op == "Flatten") {
      KEEL_ASSIGN_OR_RETURN(out, flatten(n, *in[0]));
    } else if (op == "Reshape") {
      if (!in[1]) return node_error(n, "the shape has no value");
      KEEL_ASSIGN_OR_RETURN(out, reshape(n, *in[0], *in[1]));
    } else {  // Identity, Dropout (inference)
      out = *in[0];
    }
    values[n.outputs[0]] = std::move(out);
  }
  std::vector<Tensor> outputs;
  for (const auto& o : graph_.outputs) {
    const Tensor* t = get(o.name);
    if (!t) return Status::invalid_argument(fmt::format("output '{}' has no value", o.name));
    outputs.push_back(*t);
  }
  return outputs;
}

}  // namespace keel::edge
