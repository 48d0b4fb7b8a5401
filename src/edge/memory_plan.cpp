#include "edge/memory_plan.h"

#include <algorithm>
#include <map>

namespace keel::edge {

namespace {

int64_t align(int64_t v) { return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

bool alive_together(const BufferPlan& a, const BufferPlan& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

}  // namespace

MemoryPlan plan_memory(const OnnxGraph& g, const ValueShapes& shapes) {
  std::map<std::string, BufferPlan, std::less<>> by_name;
  auto touch = [&](const std::string& name, int64_t step, bool writes) {
    if (name.empty() || g.initializers.count(name)) return;
    auto shape = shapes.find(name);
    if (shape == shapes.end()) return;
    auto [it, fresh] = by_name.try_emplace(name);
    BufferPlan& b = it->second;
    if (fresh) {
      int64_t n = 1;
      for (int64_t d : shape->second) n *= d;
      b.value = name;
      b.bytes = n * static_cast<int64_t>(sizeof(float));
      b.first_step = writes ? step : -1;
      b.last_step = step;
    }
    b.last_step = std::max(b.last_step, step);
  };
  for (const auto& in : g.inputs) touch(in.name, -1, true);
  const auto steps = static_cast<int64_t>(g.nodes.size());
  for (int64_t i = 0; i < steps; ++i) {
    for (const auto& in : g.nodes[i].inputs) touch(in, i, false);
    for (const auto& out : g.nodes[i].outputs) touch(out, i, true);
  }
  for (const auto& out : g.outputs) touch(out.name, steps, false);

  MemoryPlan plan;
  std::vector<BufferPlan> order;
  for (auto& [name, b] : by_name) {
    plan.naive_bytes += align(b.bytes);
    order.push_back(b);
  }
  // Largest first, then by when it starts: first fit among the buffers alive at the same time.
  std::stable_sort(order.begin(), order.end(), [](const BufferPlan& a, const BufferPlan& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.first_step < b.first_step;
  });
  for (auto& b : order) {
    std::vector<std::pair<int64_t, int64_t>> taken;  // [offset, end) of live neighbours
    for (const auto& placed : plan.buffers) {
      if (alive_together(placed, b)) taken.emplace_back(placed.offset, placed.offset + align(placed.bytes));
    }
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (const auto& [start, end] : taken) {
      if (offset + align(b.bytes) <= start) break;
      offset = std::max(offset, end);
    }
    b.offset = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + align(b.bytes));
    plan.buffers.push_back(b);
  }
  std::sort(plan.buffers.begin(), plan.buffers.end(),
            [](const BufferPlan& a, const BufferPlan& b) { return a.first_step < b.first_step; });
  return plan;
}

bool overlaps(const MemoryPlan& plan) {
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    for (size_t j = i + 1; j < plan.buffers.size(); ++j) {
      const auto& a = plan.buffers[i];
      const auto& b = plan.buffers[j];
      if (!alive_together(a, b)) continue;
      if (a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes) return true;
    }
  }
  return false;
}

}  // namespace keel::edge
