#include "edge/partitioner.h"

#include <fmt/format.h>

namespace keel::edge {

namespace {

const std::vector<int64_t>* shape_of(const std::string& name, const ValueShapes& shapes,
                                     const OnnxGraph& g) {
  if (auto it = shapes.find(name); it != shapes.end()) return &it->second;
  if (auto it = g.initializers.find(name); it != g.initializers.end()) return &it->second.shape;
  return nullptr;
}

int64_t elements(const std::vector<int64_t>* s) {
  if (!s) return 0;
  int64_t n = 1;
  for (int64_t d : *s) n *= d;
  return n;
}

// Why `d` cannot run `n` ("" when it can).
std::string refusal(const DelegateProfile& d, const Node& n, const ValueShapes& shapes,
                    const OnnxGraph& g) {
  if (d.portable()) return "";
  if (!d.ops.count(n.op_type)) return fmt::format("{} does not run {}", d.id, n.op_type);
  const auto& l = d.limits;
  if (n.op_type == "Conv" || n.op_type == "MaxPool" || n.op_type == "AveragePool") {
    std::vector<int64_t> kernel;
    if (const Attribute* a = n.attribute("kernel_shape"); a && a->kind == Attribute::Kind::integers)
      kernel = a->ints;
    const auto* w = n.op_type == "Conv" && n.inputs.size() > 1 ? shape_of(n.inputs[1], shapes, g)
                                                                 : nullptr;
    if (kernel.empty() && w && w->size() == 4) kernel = {(*w)[2], (*w)[3]};
    for (int64_t k : kernel) {
      if (l.max_kernel > 0 && k > l.max_kernel)
        return fmt::format("{}: kernel {} over its limit {}", d.id, k, l.max_kernel);
    }
    if (n.op_type == "Conv") {
      const auto* x = shape_of(n.inputs[0], shapes, g);
      const int64_t in_ch = x && x->size() == 4 ? (*x)[1] : 0;
      const int64_t out_ch = w && !w->empty() ? (*w)[0] : 0;
      if (l.max_channels > 0 && std::max(in_ch, out_ch) > l.max_channels)
        return fmt::format("{}: {} channels over its limit {}", d.id, std::max(in_ch, out_ch),
                           l.max_channels);
      const int64_t group = n.int_attribute("group", 1);
      if (group > 1 && group == in_ch && !l.depthwise)
        return fmt::format("{} does not run depthwise convolutions", d.id);
      if (group > 1 && group != in_ch && !l.grouped)
        return fmt::format("{} does not run grouped convolutions", d.id);
      if (const Attribute* a = n.attribute("dilations"); a && !l.dilation) {
        for (int64_t v : a->ints) {
          if (v != 1) return fmt::format("{} does not run dilated convolutions", d.id);
        }
      }
    }
  }
  return "";
}

}  // namespace

double node_macs(const Node& n, const ValueShapes& shapes, const OnnxGraph& g) {
  const auto* out = n.outputs.empty() ? nullptr : shape_of(n.outputs[0], shapes, g);
  const double out_elements = static_cast<double>(elements(out));
  if (n.op_type == "Conv" && n.inputs.size() > 1) {
    const auto* w = shape_of(n.inputs[1], shapes, g);
    if (w && w->size() == 4) return out_elements * static_cast<double>((*w)[1] * (*w)[2] * (*w)[3]);
  }
  if ((n.op_type == "Gemm" || n.op_type == "MatMul") && n.inputs.size() > 1) {
    const auto* a = shape_of(n.inputs[0], shapes, g);
    if (a && !a->empty()) {
      const bool trans_a = n.op_type == "Gemm" && n.int_attribute("transA", 0) != 0;
      const int64_t k = trans_a && a->size() == 2 ? (*a)[0] : a->back();
      return out_elements * static_cast<double>(k);
    }
  }
  if (n.op_type == "MaxPool" || n.op_type == "AveragePool") {
    if (const Attribute* k = n.attribute("kernel_shape"); k && k->kind == Attribute::Kind::integers) {
      double window = 1;
      for (int64_t v : k->ints) window *= static_cast<double>(v);
      return out_elements * window;
    }
  }
  if (n.op_type == "GlobalAveragePool" || n.op_type == "GlobalMaxPool")
    return static_cast<double>(elements(shape_of(n.inputs[0], shapes, g)));
  return out_elements;
}

PartitionPlan partition(const OnnxGraph& g, const ValueShapes& shapes, const DeviceProfile& d) {
  PartitionPlan plan;
  for (const auto& del : d.delegates) plan.has_accelerator |= !del.portable();
  double accelerated_macs = 0;
  size_t accelerated_nodes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    NodePlacement p{n.name, n.op_type, std::string(kPortableDelegate), "", node_macs(n, shapes, g)};
    for (const auto& del : d.delegates) {
      std::string why = refusal(del, n, shapes, g);
      if (why.empty()) {
        p.delegate = del.id;
        break;
      }
      if (p.why_not_accelerated.empty()) p.why_not_accelerated = why;
    }
    if (p.delegate != kPortableDelegate) {
      p.why_not_accelerated.clear();
      accelerated_macs += p.macs;
      ++accelerated_nodes;
    }
    plan.total_macs += p.macs;
    if (plan.partitions.empty() || plan.partitions.back().delegate != p.delegate) {
      plan.partitions.push_back(Partition{p.delegate, i, 0, 0});
    }
    plan.partitions.back().node_count += 1;
    plan.partitions.back().macs += p.macs;
    plan.nodes.push_back(std::move(p));
  }
  if (!g.nodes.empty())
    plan.node_coverage = static_cast<double>(accelerated_nodes) / static_cast<double>(g.nodes.size());
  if (plan.total_macs > 0) plan.mac_coverage = accelerated_macs / plan.total_macs;
  return plan;
}

}  // namespace keel::edge
