// The memory plan of a prepared program: every value the graph computes (and its inputs) gets
// an offset in one arena, computed ahead of time from the values' sizes and lifetimes (from
// the node that writes a value to the last node that reads it; graph outputs live to the end).
// Two values share bytes only when their lifetimes do not overlap. Weights are not in the
// arena (they stay in the program file's mapping).
//
// Contract: plan_memory() is deterministic for a graph and its shapes; every offset is a
// multiple of kArenaAlignment; overlaps() is false for the plan it returns (tests check it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edge/onnx_graph.h"
#include "edge/partitioner.h"

namespace keel::edge {

inline constexpr int64_t kArenaAlignment = 64;

struct BufferPlan {
  std::string value;
  int64_t bytes = 0;
  int64_t offset = 0;
  int64_t first_step = 0;  //!< the node index that writes it (-1: a graph input)
  int64_t last_step = 0;   //!< the last node index that reads it (nodes.size(): a graph output)
};

struct MemoryPlan {
  std::vector<BufferPlan> buffers;
  int64_t arena_bytes = 0;  //!< the arena's size
  int64_t naive_bytes = 0;  //!< every value in a buffer of its own
};

MemoryPlan plan_memory(const OnnxGraph& g, const ValueShapes& shapes);
//! Whether two buffers that are alive at the same time share a byte.
bool overlaps(const MemoryPlan& plan);

}  // namespace keel::edge
