// An ONNX model read into plain C++ values: the graph's nodes in order, its constant tensors
// (initializers), its inputs and outputs with their shapes, and the model's metadata. Parsing
// uses ONNX's own protobuf schema (libonnx-dev); nothing else in Keel sees protobuf types.
//
// Contract:
// - parse_onnx() takes untrusted bytes. Truncated or malformed protobuf, a graph with no
//   nodes, a tensor whose data does not match its shape, an element type other than float32
//   or int64 for initializers, a node reading a value nothing produced before it (not in
//   topological order, or a dangling name), and files over kMaxOnnxBytes are invalid_argument
//   errors naming the node, tensor or value. It never throws or aborts on bad input.
// - Operator support is not checked here (the runtime that prepares the graph does that).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace keel::edge {

inline constexpr uint64_t kMaxOnnxBytes = 256ull << 20;

//! A tensor's element type. Every tensor holds its values as float32 in `data` (exact for the
//! integer types: int8 and uint8 quantized values, int32 quantized biases); int64 tensors (e.g.
//! shapes) keep their values in `int_data` as well.
enum class ElementType { float32, int64, int32, int8, uint8 };

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::vector<int64_t> int_data;  //!< set for int64 tensors only
  bool is_int64 = false;
  ElementType type = ElementType::float32;

  int64_t element_count() const;
};

//! One dimension of a declared input or output: a fixed size, or a symbol ("batch").
struct Dim {
  int64_t size = -1;  //!< -1 when symbolic or unknown
  std::string symbol;
};

struct ValueInfo {
  std::string name;
  std::string element_type;  //!< "float32", "int64", ...
  std::vector<Dim> dims;
};

//! A node's attribute: an int, a float, a string, or a list of ints or floats.
struct Attribute {
  enum class Kind { integer, real, text, integers, reals, tensor } kind = Kind::integer;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  Tensor t;
};

struct Node {
  std::string name;  //!< as written, or "<op_type>#<index>" when the file names none
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;  //!< "" for an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute, std::less<>> attributes;

  const Attribute* attribute(std::string_view key) const;
  int64_t int_attribute(std::string_view key, int64_t fallback) const;
  float float_attribute(std::string_view key, float fallback) const;
};

struct OnnxGraph {
  int64_t ir_version = 0;
  int64_t opset = 0;  //!< the default ("" / "ai.onnx") domain's version
  std::string producer;
  std::vector<Node> nodes;
  std::map<std::string, Tensor, std::less<>> initializers;
  std::vector<ValueInfo> inputs;   //!< graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, std::string, std::less<>> metadata;  //!< metadata_props

  const ValueInfo* input(std::string_view name) const;
};

//! A metadata entry holding JSON (keel.labels, keel.preprocess, ...): invalid_argument naming the
//! key when it is missing or not JSON.
[[nodiscard]] Result<Json> metadata_json(const OnnxGraph& g, std::string_view key);

[[nodiscard]] Result<OnnxGraph> parse_onnx(std::string_view bytes);
[[nodiscard]] Result<OnnxGraph> load_onnx(const std::string& path);

}  // namespace keel::edge
