// Fuzz target: an ONNX model or a prepared program a client or device was handed
// (edge/onnx_graph.h, edge/prepared_program.h), and what the runtime makes of it. Whatever the
// bytes: no crash, no exception, no abort; a parsed graph has nodes, inputs and outputs, and
// preparing it either succeeds or names what it refuses; a program loads only when its hash
// verifies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edge/graph_runtime.h"
#include "edge/onnx_graph.h"
#include "edge/prepared_program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto p = keel::edge::parse_program(bytes, "fuzz"); p.ok() && !p->runtime) std::abort();
  auto g = keel::edge::parse_onnx(bytes);
  if (!g.ok()) return 0;
  if (g->nodes.empty() || g->inputs.empty() || g->outputs.empty()) std::abort();
  auto rt = keel::edge::GraphRuntime::prepare(std::move(*g));
  if (!rt.ok() && rt.status().message().empty()) std::abort();
  return 0;
}
