// Fuzz target: an ONNX model a client or device was handed (edge/onnx_graph.h), and what the
// runtime makes of it. Whatever the bytes: no crash, no exception, no abort; a parsed graph has
// nodes, inputs and outputs, and preparing it either succeeds or names what it refuses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edge/graph_runtime.h"
#include "edge/onnx_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto g = keel::edge::parse_onnx(bytes);
  if (!g.ok()) return 0;
  if (g->nodes.empty() || g->inputs.empty() || g->outputs.empty()) std::abort();
  auto rt = keel::edge::GraphRuntime::prepare(std::move(*g));
  if (!rt.ok() && rt.status().message().empty()) std::abort();
  return 0;
}
