// Partitioning a prepared graph between a device's delegates, ahead of time: each node goes to
// the first delegate (in the profile's order) that runs its operator within its limits, the
// rest to the portable CPU kernels; consecutive nodes on one delegate form a partition (every
// partition boundary is a copy between delegates at run time). Coverage is the share of nodes
// and of multiply-accumulates (MACs) that run on a delegate other than the portable one.
//
// Contract: partition() needs the shape of every value (GraphRuntime::value_shapes) and never
// fails for a graph the runtime prepared: a node no accelerator takes says why (the first
// reason from the most preferred delegate).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edge/device_profile.h"
#include "edge/onnx_graph.h"

namespace keel::edge {

using ValueShapes = std::map<std::string, std::vector<int64_t>, std::less<>>;

struct NodePlacement {
  std::string node;
  std::string op_type;
  std::string delegate;
  std::string why_not_accelerated;  //!< "" when on an accelerator (or none exists)
  double macs = 0;
};

struct Partition {
  std::string delegate;
  size_t first_node = 0;  //!< index into the graph's nodes
  size_t node_count = 0;
  double macs = 0;
};

struct PartitionPlan {
  std::vector<NodePlacement> nodes;
  std::vector<Partition> partitions;
  double node_coverage = 0;  //!< share of nodes on an accelerator delegate
  double mac_coverage = 0;   //!< share of MACs on an accelerator delegate
  double total_macs = 0;
  bool has_accelerator = false;
};

//! The multiply-accumulates one node does for these shapes (elementwise ops count one per
//! output value).
double node_macs(const Node& n, const ValueShapes& shapes, const OnnxGraph& g);

PartitionPlan partition(const OnnxGraph& g, const ValueShapes& shapes, const DeviceProfile& d);

}  // namespace keel::edge
