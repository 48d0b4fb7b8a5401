#include "edge/graph_runtime.h"

#include "edge/cpu_kernels.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace keel::edge {

namespace {

using Values = std::map<std::string, Tensor, std::less<>>;

const std::set<std::string, std::less<>> kSupported = {
    "Gemm",     "MatMul",      "Add",           "Sub",     "Mul",
    "Relu",     "Sigmoid",     "Tanh",          "Softmax", "Flatten",
    "Reshape",  "Identity",    "Dropout",       "Conv",    "BatchNormalization",
    "Clip",     "HardSigmoid", "HardSwish",     "LeakyRelu", "MaxPool",
    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Concat", "QuantizeLinear",
    "DequantizeLinear"};

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

// F is a functor taken by value so each operator's loop is compiled with it inlined.
template <typename F>
Result<Tensor> elementwise(const Node& n, const Tensor& a, const Tensor& b, F f) {
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

template <typename F>
Tensor unary(const Tensor& a, F f) {
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

std::vector<int64_t> ints_or(const Node& n, std::string_view key, std::vector<int64_t> fallback) {
  const Attribute* a = n.attribute(key);
  return a && a->kind == Attribute::Kind::integers ? a->ints : fallback;
}

// The two spatial axes of a Conv or pooling node's window over input [N, C, H, W].
Result<std::pair<WindowAxis, WindowAxis>> window_axes(const Node& n,
                                                      const std::vector<int64_t>& in_shape,
                                                      std::vector<int64_t> kernel,
                                                      bool ceil_mode = false) {
  if (in_shape.size() != 4)
    return node_error(n, fmt::format("needs a 4-D NCHW input, got {}", shape_text(in_shape)));
  auto k = ints_or(n, "kernel_shape", kernel);
  auto strides = ints_or(n, "strides", {1, 1});
  auto dilations = ints_or(n, "dilations", {1, 1});
  auto pads = ints_or(n, "pads", {0, 0, 0, 0});
  if (k.size() != 2 || strides.size() != 2 || dilations.size() != 2 || pads.size() != 4)
    return node_error(n, "only 2-D windows are supported (kernel_shape, strides, dilations, pads)");
  std::string auto_pad = "NOTSET";
  if (const Attribute* a = n.attribute("auto_pad"); a && a->kind == Attribute::Kind::text)
    auto_pad = a->s;
  WindowAxis axes[2];
  for (int i = 0; i < 2; ++i) {
    WindowAxis& a = axes[i];
    a.in = in_shape[2 + i];
    a.kernel = k[i];
    a.stride = strides[i];
    a.dilation = dilations[i];
    if (a.kernel < 1 || a.stride < 1 || a.dilation < 1)
      return node_error(n, "kernel, stride and dilation must be positive");
    if (auto_pad == "NOTSET") {
      a.pad_begin = pads[i];
      a.pad_end = pads[2 + i];
      if (a.pad_begin < 0 || a.pad_end < 0) return node_error(n, "negative padding");
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (a.in + a.stride - 1) / a.stride;
      const int64_t total =
          std::max<int64_t>(0, (out - 1) * a.stride + a.dilation * (a.kernel - 1) + 1 - a.in);
      a.pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
    } else if (auto_pad != "VALID") {
      return node_error(n, "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID");
    }
    a.out = window_output_size(a, ceil_mode);
    if (a.out < 1) return node_error(n, "the window is larger than the padded input");
  }
  return std::make_pair(axes[0], axes[1]);
}

Result<Tensor> conv(const Node& n, const Tensor& x, const Tensor& w, const Tensor* b) {
  if (w.shape.size() != 4) return node_error(n, "only 2-D convolutions are supported");
  Conv2dShape s;
  s.groups = n.int_attribute("group", 1);
  if (x.shape.size() != 4) return node_error(n, "needs a 4-D NCHW input");
  s.batch = x.shape[0];
  s.in_channels = x.shape[1];
  s.out_channels = w.shape[0];
  if (s.groups < 1 || s.in_channels % s.groups != 0 || s.out_channels % s.groups != 0 ||
      w.shape[1] != s.in_channels / s.groups)
    return node_error(n, fmt::format("weights {} do not fit {} input channels in {} group(s)",
                                     shape_text(w.shape), s.in_channels, s.groups));
  if (b && (b->shape.size() != 1 || b->shape[0] != s.out_channels))
    return node_error(n, "the bias must hold one value per output channel");
  KEEL_ASSIGN_OR_RETURN(auto axes, window_axes(n, x.shape, {w.shape[2], w.shape[3]}));
  s.h = axes.first;
  s.w = axes.second;
  if (s.h.kernel != w.shape[2] || s.w.kernel != w.shape[3])
    return node_error(n, "kernel_shape differs from the weights' shape");
  Tensor out;
  out.shape = {s.batch, s.out_channels, s.h.out, s.w.out};
  out.data.resize(static_cast<size_t>(out.element_count()));
  conv2d(s, x.data.data(), w.data.data(), b ? b->data.data() : nullptr, out.data.data());
  return out;
}

Result<Tensor> pool(const Node& n, const Tensor& x, PoolKind kind, bool global) {
  if (x.shape.size() != 4) return node_error(n, "needs a 4-D NCHW input");
  Pool2dShape s;
  s.batch = x.shape[0];
  s.channels = x.shape[1];
  if (global) {
    s.h = WindowAxis{x.shape[2], x.shape[2], 1, 1, 0, 0, 1};
    s.w = WindowAxis{x.shape[3], x.shape[3], 1, 1, 0, 0, 1};
  } else {
    if (!n.attribute("kernel_shape")) return node_error(n, "kernel_shape is required");
    KEEL_ASSIGN_OR_RETURN(
        auto axes, window_axes(n, x.shape, {}, n.int_attribute("ceil_mode", 0) != 0));
    s.h = axes.first;
    s.w = axes.second;
    s.count_include_pad = n.int_attribute("count_include_pad", 0) != 0;
  }
  Tensor out;
  out.shape = {s.batch, s.channels, s.h.out, s.w.out};
  out.data.resize(static_cast<size_t>(out.element_count()));
  pool2d(kind, s, x.data.data(), out.data.data());
  return out;
}

// Per-channel y = x * scale[c] + shift[c] over [N, C, ...].
Result<Tensor> batch_norm(const Node& n, const std::vector<const Tensor*>& in) {
  if (in.size() < 5 || !in[1] || !in[2] || !in[3] || !in[4])
    return node_error(n, "needs X, scale, B, mean and var");
  const Tensor& x = *in[0];
  if (x.shape.size() < 2) return node_error(n, "needs [N, C, ...]");
  const int64_t c = x.shape[1];
  for (int i = 1; i < 5; ++i) {
    if (in[i]->element_count() != c) return node_error(n, "each parameter needs one value per channel");
  }
  const float eps = n.float_attribute("epsilon", 1e-5f);
  const int64_t inner = x.element_count() / std::max<int64_t>(x.shape[0] * c, 1);
  Tensor out;
  out.shape = x.shape;
  out.data.resize(x.data.size());
  for (int64_t b = 0; b < x.shape[0]; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const float scale = in[1]->data[ch] / std::sqrt(in[4]->data[ch] + eps);
      const float shift = in[2]->data[ch] - in[3]->data[ch] * scale;
      const int64_t base = (b * c + ch) * inner;
      for (int64_t i = 0; i < inner; ++i) out.data[base + i] = x.data[base + i] * scale + shift;
    }
  }
  return out;
}

Result<Tensor> concat(const Node& n, const std::vector<const Tensor*>& in) {
  for (const Tensor* t : in) {
    if (!t) return node_error(n, "an input has no value");
  }
  const int64_t rank = static_cast<int64_t>(in[0]->shape.size());
  int64_t axis = n.int_attribute("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return node_error(n, "axis out of range");
  Tensor out;
  out.shape = in[0]->shape;
  out.shape[axis] = 0;
  for (const Tensor* t : in) {
    if (static_cast<int64_t>(t->shape.size()) != rank)
      return node_error(n, "inputs differ in rank");
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && t->shape[d] != in[0]->shape[d])
        return node_error(n, fmt::format("{} and {} differ outside the axis",
                                         shape_text(in[0]->shape), shape_text(t->shape)));
    }
    out.shape[axis] += t->shape[axis];
  }
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out.shape[d];
  out.data.reserve(static_cast<size_t>(out.element_count()));
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : in) {
      const int64_t chunk = t->element_count() / std::max<int64_t>(outer, 1);
      out.data.insert(out.data.end(), t->data.begin() + o * chunk,
                      t->data.begin() + (o + 1) * chunk);
    }
  }
  return out;
}

// QuantizeLinear / DequantizeLinear: a scale (and zero point) per tensor, or one per index of
// `axis` (per-channel). Returns, for every element of x, the index of its scale.
Result<std::vector<float>> per_element(const Node& n, const Tensor& x, const Tensor& param,
                                       int64_t axis_attr) {
  const int64_t count = x.element_count();
  std::vector<float> out(static_cast<size_t>(count));
  if (param.element_count() == 1) {
    std::fill(out.begin(), out.end(), param.data[0]);
    return out;
  }
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
  if (param.shape.size() != 1 || axis < 0 || axis >= rank || param.shape[0] != x.shape[axis])
    return node_error(n, fmt::format("a per-axis scale of shape {} does not match axis {} of {}",
                                     shape_text(param.shape), axis_attr, shape_text(x.shape)));
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[d];
  const int64_t channels = x.shape[axis];
  for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = param.data[(i / inner) % channels];
  return out;
}

Result<Tensor> quantize_linear(const Node& n, const Tensor& x, const Tensor& scale,
                               const Tensor* zero_point) {
  const int64_t axis = n.int_attribute("axis", 1);
  const ElementType type = zero_point ? zero_point->type : ElementType::uint8;
  if (type != ElementType::uint8 && type != ElementType::int8)
    return node_error(n, "the zero point must be uint8 or int8");
  const float lo = type == ElementType::uint8 ? 0.0f : -128.0f;
  const float hi = type == ElementType::uint8 ? 255.0f : 127.0f;
  Tensor out;
  out.shape = x.shape;
  out.type = type;
  out.data.resize(x.data.size());
  // Round half to even, as the operator specifies, then saturate.
  if (scale.element_count() == 1 && (!zero_point || zero_point->element_count() == 1)) {
    const float s = scale.data[0], z = zero_point ? zero_point->data[0] : 0.0f;
    if (s == 0.0f) return node_error(n, "the scale is zero");
    for (size_t i = 0; i < x.data.size(); ++i)
      out.data[i] = std::clamp(std::nearbyint(x.data[i] / s) + z, lo, hi);
    return out;
  }
  KEEL_ASSIGN_OR_RETURN(std::vector<float> scales, per_element(n, x, scale, axis));
  std::vector<float> zeros(scales.size(), 0.0f);
  if (zero_point) {
    KEEL_ASSIGN_OR_RETURN(zeros, per_element(n, x, *zero_point, axis));
  }
  for (size_t i = 0; i < x.data.size(); ++i) {
    if (scales[i] == 0.0f) return node_error(n, "a scale is zero");
    out.data[i] = std::clamp(std::nearbyint(x.data[i] / scales[i]) + zeros[i], lo, hi);
  }
  return out;
}

Result<Tensor> dequantize_linear(const Node& n, const Tensor& x, const Tensor& scale,
                                 const Tensor* zero_point) {
  const int64_t axis = n.int_attribute("axis", 1);
  Tensor out;
  out.shape = x.shape;
  out.data.resize(x.data.size());
  if (scale.element_count() == 1 && (!zero_point || zero_point->element_count() == 1)) {
    const float s = scale.data[0], z = zero_point ? zero_point->data[0] : 0.0f;
    for (size_t i = 0; i < x.data.size(); ++i) out.data[i] = (x.data[i] - z) * s;
    return out;
  }
  KEEL_ASSIGN_OR_RETURN(std::vector<float> scales, per_element(n, x, scale, axis));
  std::vector<float> zeros(scales.size(), 0.0f);
  if (zero_point) {
    KEEL_ASSIGN_OR_RETURN(zeros, per_element(n, x, *zero_point, axis));
  }
  for (size_t i = 0; i < x.data.size(); ++i) out.data[i] = (x.data[i] - zeros[i]) * scales[i];
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
  if (n.op_type == "Gemm" || n.op_type == "Conv") return need_inputs(2, 3);
  if (n.op_type == "BatchNormalization") return need_inputs(5, 5);
  if (n.op_type == "Clip") return need_inputs(1, 3);
  if (n.op_type == "Concat") return need_inputs(1, 64);
  if (n.op_type == "MatMul" || n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" ||
      n.op_type == "Reshape")
    return need_inputs(2, 2);
  if (n.op_type == "Dropout") return need_inputs(1, 3);
  if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear") return need_inputs(2, 3);
  return need_inputs(1, 1);
}

// BatchNormalization after a Conv whose output nothing else reads, with every parameter a
// constant, is folded into the Conv's weights and bias: the BN node disappears.
int fold_batch_norms(OnnxGraph& g) {
  std::map<std::string, int, std::less<>> uses;
  for (const Node& n : g.nodes) {
    for (const auto& in : n.inputs) ++uses[in];
  }
  for (const auto& o : g.outputs) ++uses[o.name];
  std::map<std::string, size_t, std::less<>> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const auto& o : g.nodes[i].outputs) producer[o] = i;
  }
  auto constant = [&](const std::string& name) -> const Tensor* {
    auto it = g.initializers.find(name);
    return it == g.initializers.end() || it->second.is_int64 ? nullptr : &it->second;
  };
  std::vector<bool> removed(g.nodes.size(), false);
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || bn.inputs.size() != 5 || bn.outputs.size() != 1)
      continue;
    auto p = producer.find(bn.inputs[0]);
    if (p == producer.end()) continue;
    Node& c = g.nodes[p->second];
    if (c.op_type != "Conv" || uses[c.outputs[0]] != 1 || c.inputs.size() < 2) continue;
    const Tensor* w = constant(c.inputs[1]);
    const Tensor* b = c.inputs.size() > 2 && !c.inputs[2].empty() ? constant(c.inputs[2]) : nullptr;
    if (!w || w->shape.size() != 4 || (c.inputs.size() > 2 && !c.inputs[2].empty() && !b)) continue;
    const int64_t oc = w->shape[0];
    std::vector<const Tensor*> params;
    for (int k = 1; k < 5; ++k) params.push_back(constant(bn.inputs[k]));
    if (std::any_of(params.begin(), params.end(),
                    [oc](const Tensor* t) { return !t || t->element_count() != oc; }))
      continue;
    const float eps = bn.float_attribute("epsilon", 1e-5f);
    Tensor w2 = *w, b2;
    b2.shape = {oc};
    b2.data.resize(static_cast<size_t>(oc));
    const int64_t per_channel = w->element_count() / oc;
    for (int64_t ch = 0; ch < oc; ++ch) {
      const float scale = params[0]->data[ch] / std::sqrt(params[3]->data[ch] + eps);
      for (int64_t j = 0; j < per_channel; ++j) w2.data[ch * per_channel + j] *= scale;
      const float bias = b ? b->data[ch] : 0.0f;
      b2.data[ch] = (bias - params[2]->data[ch]) * scale + params[1]->data[ch];
    }
    const std::string w_name = c.name + "/bn_folded_W", b_name = c.name + "/bn_folded_B";
    g.initializers[w_name] = std::move(w2);
    g.initializers[b_name] = std::move(b2);
    c.inputs.resize(3);
    c.inputs[1] = w_name;
    c.inputs[2] = b_name;
    c.outputs[0] = bn.outputs[0];
    removed[i] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  return folded;
}

}  // namespace

// A DequantizeLinear whose inputs are all constants (int8 weights with their scales) becomes a
// float32 initializer: weights are dequantized once, at preparation, not per frame.
Status fold_constant_dequantize(OnnxGraph& g) {
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    bool constant = n.op_type == "DequantizeLinear";
    for (const auto& in : n.inputs) constant &= in.empty() || g.initializers.count(in) > 0;
    if (!constant) {
      kept.push_back(std::move(n));
      continue;
    }
    const Tensor* zp = n.inputs.size() > 2 && !n.inputs[2].empty() ? &g.initializers.at(n.inputs[2]) : nullptr;
    KEEL_ASSIGN_OR_RETURN(Tensor w, dequantize_linear(n, g.initializers.at(n.inputs[0]),
                                                      g.initializers.at(n.inputs[1]), zp));
    g.initializers[n.outputs[0]] = std::move(w);
  }
  g.nodes = std::move(kept);
  return Status();
}

Result<GraphRuntime> GraphRuntime::prepare(OnnxGraph graph) {
  if (graph.opset < 7) {
    return Status::unimplemented(fmt::format(
        "the model imports ONNX opset {}; this runtime runs opset 7 and later", graph.opset));
  }
  for (const auto& n : graph.nodes) KEEL_RETURN_IF_ERROR(check_node(n));
  KEEL_RETURN_IF_ERROR(fold_constant_dequantize(graph));
  const int folded = fold_batch_norms(graph);
  GraphRuntime runtime(std::move(graph));
  runtime.folded_batch_norms_ = folded;
  return runtime;
}

Result<std::vector<Tensor>> GraphRuntime::run(const Values& inputs) const {
  Values values;
  return evaluate(inputs, values);
}

Result<std::map<std::string, std::vector<int64_t>, std::less<>>> GraphRuntime::value_shapes(
    const std::map<std::string, std::vector<int64_t>, std::less<>>& input_shapes) const {
  Values inputs;
  for (const auto& [name, shape] : input_shapes) {
    Tensor t;
    t.shape = shape;
    t.data.assign(static_cast<size_t>(std::max<int64_t>(t.element_count(), 0)), 0.0f);
    inputs[name] = std::move(t);
  }
  Values values;
  KEEL_RETURN_IF_ERROR(evaluate(inputs, values).status());
  std::map<std::string, std::vector<int64_t>, std::less<>> shapes;
  for (const auto& [name, t] : values) shapes[name] = t.shape;
  return shapes;
}

Result<std::vector<Tensor>> GraphRuntime::evaluate(const Values& inputs, Values& values) const {
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
      if (op == "Add") {
        KEEL_ASSIGN_OR_RETURN(out, elementwise(n, *in[0], *in[1], [](float x, float y) { return x + y; }));
      } else if (op == "Sub") {
        KEEL_ASSIGN_OR_RETURN(out, elementwise(n, *in[0], *in[1], [](float x, float y) { return x - y; }));
      } else {
        KEEL_ASSIGN_OR_RETURN(out, elementwise(n, *in[0], *in[1], [](float x, float y) { return x * y; }));
      }
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
    } else if (op == "Conv") {
      if (!in[1]) return node_error(n, "W has no value");
      KEEL_ASSIGN_OR_RETURN(out, conv(n, *in[0], *in[1], in.size() > 2 ? in[2] : nullptr));
    } else if (op == "BatchNormalization") {
      KEEL_ASSIGN_OR_RETURN(out, batch_norm(n, in));
    } else if (op == "MaxPool" || op == "AveragePool") {
      KEEL_ASSIGN_OR_RETURN(out, pool(n, *in[0], op == "MaxPool" ? PoolKind::max : PoolKind::average,
                                      /*global=*/false));
    } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
      KEEL_ASSIGN_OR_RETURN(out, pool(n, *in[0],
                                      op == "GlobalMaxPool" ? PoolKind::max : PoolKind::average,
                                      /*global=*/true));
    } else if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      if (!in[1]) return node_error(n, "the scale has no value");
      const Tensor* zero_point = in.size() > 2 ? in[2] : nullptr;
      if (op == "QuantizeLinear") {
        KEEL_ASSIGN_OR_RETURN(out, quantize_linear(n, *in[0], *in[1], zero_point));
      } else {
        KEEL_ASSIGN_OR_RETURN(out, dequantize_linear(n, *in[0], *in[1], zero_point));
      }
    } else if (op == "Clip") {
      // Opset 11 and later: optional min and max inputs; before: attributes.
      float lo = n.float_attribute("min", -INFINITY), hi = n.float_attribute("max", INFINITY);
      for (size_t k = 1; k < in.size() && k < 3; ++k) {
        if (!in[k]) continue;
        if (in[k]->data.size() != 1) return node_error(n, "min and max must be single values");
        (k == 1 ? lo : hi) = in[k]->data[0];
      }
      out = unary(*in[0], [lo, hi](float v) { return std::min(std::max(v, lo), hi); });
    } else if (op == "HardSigmoid") {
      const float alpha = n.float_attribute("alpha", 0.2f), beta = n.float_attribute("beta", 0.5f);
      out = unary(*in[0], [alpha, beta](float v) {
        return std::max(0.0f, std::min(1.0f, alpha * v + beta));
      });
    } else if (op == "HardSwish") {
      out = unary(*in[0], [](float v) {
        return v * std::max(0.0f, std::min(1.0f, v / 6.0f + 0.5f));
      });
    } else if (op == "LeakyRelu") {
      const float alpha = n.float_attribute("alpha", 0.01f);
      out = unary(*in[0], [alpha](float v) { return v >= 0.0f ? v : alpha * v; });
    } else if (op == "Concat") {
      KEEL_ASSIGN_OR_RETURN(out, concat(n, in));
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
