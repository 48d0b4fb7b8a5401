#include "edge/onnx_graph.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <limits>
#include <set>

#include "core/file_io.h"

namespace keel::edge {

int64_t Tensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const Attribute* Node::attribute(std::string_view key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? nullptr : &it->second;
}

int64_t Node::int_attribute(std::string_view key, int64_t fallback) const {
  const Attribute* a = attribute(key);
  return a && a->kind == Attribute::Kind::integer ? a->i : fallback;
}

float Node::float_attribute(std::string_view key, float fallback) const {
  const Attribute* a = attribute(key);
  return a && a->kind == Attribute::Kind::real ? a->f : fallback;
}

const ValueInfo* OnnxGraph::input(std::string_view name) const {
  for (const auto& v : inputs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

namespace {

constexpr int64_t kMaxElements = int64_t{1} << 32;

std::string element_type_name(int32_t type) {
  switch (type) {
    case onnx::TensorProto_DataType_FLOAT: return "float32";
    case onnx::TensorProto_DataType_UINT8: return "uint8";
    case onnx::TensorProto_DataType_INT8: return "int8";
    case onnx::TensorProto_DataType_INT32: return "int32";
    case onnx::TensorProto_DataType_INT64: return "int64";
    case onnx::TensorProto_DataType_STRING: return "string";
    case onnx::TensorProto_DataType_FLOAT16: return "float16";
    case onnx::TensorProto_DataType_DOUBLE: return "float64";
    default: return fmt::format("type {}", type);
  }
}

Result<Tensor> read_tensor(const onnx::TensorProto& t, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return Status::invalid_argument(fmt::format("{} '{}': {}", what, t.name(), why));
  };
  if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
    return bad("external data files are not supported (keep the weights inside the model)");
  Tensor out;
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && count > kMaxElements / d)) return bad("invalid or oversized shape");
    out.shape.push_back(d);
    count *= d;
  }
  const std::string& raw = t.raw_data();
  switch (t.data_type()) {
    case onnx::TensorProto_DataType_FLOAT: {
      if (!raw.empty()) {
        if (raw.size() != static_cast<size_t>(count) * sizeof(float))
          return bad(fmt::format("{} bytes of data for {} float32 values", raw.size(), count));
        out.data.resize(static_cast<size_t>(count));
        std::memcpy(out.data.data(), raw.data(), raw.size());
      } else {
        if (t.float_data_size() != count)
          return bad(fmt::format("{} values for a shape of {}", t.float_data_size(), count));
        out.data.assign(t.float_data().begin(), t.float_data().end());
      }
      return out;
    }
    case onnx::TensorProto_DataType_INT64: {
      out.is_int64 = true;
      if (!raw.empty()) {
        if (raw.size() != static_cast<size_t>(count) * sizeof(int64_t))
          return bad(fmt::format("{} bytes of data for {} int64 values", raw.size(), count));
        out.int_data.resize(static_cast<size_t>(count));
        std::memcpy(out.int_data.data(), raw.data(), raw.size());
      } else {
        if (t.int64_data_size() != count)
          return bad(fmt::format("{} values for a shape of {}", t.int64_data_size(), count));
        out.int_data.assign(t.int64_data().begin(), t.int64_data().end());
      }
      out.type = ElementType::int64;
      out.data.reserve(out.int_data.size());
      for (int64_t v : out.int_data) out.data.push_back(static_cast<float>(v));
      return out;
    }
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_UINT8:
    case onnx::TensorProto_DataType_INT32: {
      // Quantized values (int8/uint8) and quantized biases (int32): raw little-endian bytes, or
      // the int32_data field (which ONNX uses for all three).
      const bool is32 = t.data_type() == onnx::TensorProto_DataType_INT32;
      const bool is_signed8 = t.data_type() == onnx::TensorProto_DataType_INT8;
      out.type = is32 ? ElementType::int32 : is_signed8 ? ElementType::int8 : ElementType::uint8;
      out.data.resize(static_cast<size_t>(count));
      if (!raw.empty()) {
        const size_t width = is32 ? 4 : 1;
        if (raw.size() != static_cast<size_t>(count) * width)
          return bad(fmt::format("{} bytes of data for {} {} values", raw.size(), count,
                                 element_type_name(t.data_type())));
        for (int64_t i = 0; i < count; ++i) {
          const char* p = raw.data() + i * static_cast<int64_t>(width);
          if (is32) {
            int32_t v;
            std::memcpy(&v, p, 4);
            out.data[static_cast<size_t>(i)] = static_cast<float>(v);
          } else {
            out.data[static_cast<size_t>(i)] =
                is_signed8 ? static_cast<float>(static_cast<int8_t>(*p))
                           : static_cast<float>(static_cast<uint8_t>(*p));
          }
        }
      } else {
        if (t.int32_data_size() != count)
          return bad(fmt::format("{} values for a shape of {}", t.int32_data_size(), count));
        for (int64_t i = 0; i < count; ++i)
          out.data[static_cast<size_t>(i)] = static_cast<float>(t.int32_data(static_cast<int>(i)));
      }
      return out;
    }
    default:
      return bad(fmt::format("element type {} is not supported (float32, int64, int32, int8 and "
                             "uint8 are)",
                             element_type_name(t.data_type())));
  }
}

ValueInfo read_value_info(const onnx::ValueInfoProto& v) {
  ValueInfo info;
  info.name = v.name();
  if (v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    info.element_type = element_type_name(tt.elem_type());
    for (const auto& d : tt.shape().dim()) {
      Dim dim;
      if (d.has_dim_value()) dim.size = d.dim_value();
      if (d.has_dim_param()) dim.symbol = d.dim_param();
      info.dims.push_back(std::move(dim));
    }
  } else {
    info.element_type = "non-tensor";
  }
  return info;
}

Result<Attribute> read_attribute(const onnx::AttributeProto& a, const std::string& node) {
  Attribute out;
  switch (a.type()) {
    case onnx::AttributeProto_AttributeType_INT:
      out.kind = Attribute::Kind::integer;
      out.i = a.i();
      break;
    case onnx::AttributeProto_AttributeType_FLOAT:
      out.kind = Attribute::Kind::real;
      out.f = a.f();
      break;
    case onnx::AttributeProto_AttributeType_STRING:
      out.kind = Attribute::Kind::text;
      out.s = a.s();
      break;
    case onnx::AttributeProto_AttributeType_INTS:
      out.kind = Attribute::Kind::integers;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto_AttributeType_FLOATS:
      out.kind = Attribute::Kind::reals;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto_AttributeType_TENSOR: {
      out.kind = Attribute::Kind::tensor;
      KEEL_ASSIGN_OR_RETURN(out.t,
                            read_tensor(a.t(), fmt::format("node '{}' attribute tensor", node)));
      break;
    }
    default:
      return Status::invalid_argument(fmt::format(
          "node '{}': attribute '{}' has a type this runtime does not read", node, a.name()));
  }
  return out;
}

}  // namespace

Result<Json> metadata_json(const OnnxGraph& g, std::string_view key) {
  auto it = g.metadata.find(key);
  if (it == g.metadata.end())
    return Status::invalid_argument(fmt::format("the model has no '{}' metadata", key));
  auto j = parse_json(it->second);
  if (!j.ok()) return Status::invalid_argument(fmt::format("metadata '{}' is not JSON", key));
  return std::move(*j);
}

Result<OnnxGraph> parse_onnx(std::string_view bytes) {
  if (bytes.size() > kMaxOnnxBytes) {
    return Status::invalid_argument(fmt::format("an ONNX model over {} MiB is refused ({} bytes)",
                                                kMaxOnnxBytes >> 20, bytes.size()));
  }
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::invalid_argument(
        "not an ONNX model: the protobuf does not parse (truncated or another kind of file)");
  }
  if (!model.has_graph() || model.graph().node_size() == 0)
    return Status::invalid_argument("the ONNX model has no graph nodes");

  OnnxGraph g;
  g.ir_version = model.ir_version();
  g.producer = model.producer_name();
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  }
  for (const auto& p : model.metadata_props()) g.metadata[p.key()] = p.value();

  const onnx::GraphProto& graph = model.graph();
  for (const auto& init : graph.initializer()) {
    KEEL_ASSIGN_OR_RETURN(Tensor t, read_tensor(init, "initializer"));
    g.initializers[init.name()] = std::move(t);
  }
  std::set<std::string, std::less<>> known;
  for (const auto& [name, t] : g.initializers) known.insert(name);
  for (const auto& in : graph.input()) {
    if (g.initializers.count(in.name())) continue;  // older exporters list weights as inputs
    g.inputs.push_back(read_value_info(in));
    known.insert(in.name());
  }
  for (const auto& out : graph.output()) g.outputs.push_back(read_value_info(out));
  if (g.inputs.empty()) return Status::invalid_argument("the ONNX graph has no inputs");
  if (g.outputs.empty()) return Status::invalid_argument("the ONNX graph has no outputs");

  int index = 0;
  for (const auto& n : graph.node()) {
    Node node;
    node.op_type = n.op_type();
    node.domain = n.domain();
    node.name = n.name().empty() ? fmt::format("{}#{}", n.op_type(), index) : n.name();
    ++index;
    for (const auto& in : n.input()) {
      if (!in.empty() && !known.count(in)) {
        return Status::invalid_argument(fmt::format(
            "node '{}' ({}) reads '{}', which no earlier node, input or initializer produces",
            node.name, node.op_type, in));
      }
      node.inputs.push_back(in);
    }
    for (const auto& out : n.output()) {
      node.outputs.push_back(out);
      if (!out.empty()) known.insert(out);
    }
    for (const auto& a : n.attribute()) {
      KEEL_ASSIGN_OR_RETURN(Attribute attr, read_attribute(a, node.name));
      node.attributes[a.name()] = std::move(attr);
    }
    g.nodes.push_back(std::move(node));
  }
  for (const auto& out : g.outputs) {
    if (!known.count(out.name))
      return Status::invalid_argument(
          fmt::format("graph output '{}' is produced by no node", out.name));
  }
  return g;
}

Result<OnnxGraph> load_onnx(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxOnnxBytes));
  auto g = parse_onnx(bytes);
  if (!g.ok()) {
    return Status(g.status().code(), fmt::format("{}: {}", path, g.status().message()));
  }
  return g;
}

}  // namespace keel::edge
