// Will a model fit? Before loading: weights + KV cache for the context + scratch, against the
// memory this process may use (MemAvailable, the cgroup limit, and the spec's max_ram_mb).
//
// Contract: estimate_model_memory() reads only the GGUF header (the mapping is not touched, so
// no weight is paged in). choose_model() walks candidates in order of preference and returns
// the first that fits, or resource_exhausted with every candidate's numbers; when no candidate
// can be read at all (missing file, not a GGUF) the reading error's own code and message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/context.h"

namespace keel::engine {

struct MemoryBudget {
  uint64_t mem_available_bytes = 0;           //!< /proc/meminfo MemAvailable
  std::optional<uint64_t> cgroup_free_bytes;  //!< cgroup limit minus usage, when limited
  std::optional<uint64_t> spec_limit_bytes;   //!< max_ram_mb from the spec or the command line
  //! The smallest of the three.
  uint64_t usable_bytes() const;
  std::string describe() const;
};

//! Reads the machine's and cgroup's numbers; max_ram_mb adds the spec's own bound.
MemoryBudget read_memory_budget(std::optional<int64_t> max_ram_mb = std::nullopt);

struct MemoryEstimate {
  uint64_t weight_bytes = 0;
  uint64_t kv_cache_bytes = 0;
  uint64_t scratch_bytes = 0;
  uint64_t total() const { return weight_bytes + kv_cache_bytes + scratch_bytes; }
  std::string describe() const;
};

[[nodiscard]] Result<MemoryEstimate> estimate_model_memory(const std::string& path,
                                                           const ContextOptions& options);

struct ModelCandidate {
  std::string id;
  std::string path;
  std::optional<int64_t> max_ram_mb;
};

struct FitDecision {
  ModelCandidate chosen;
  MemoryEstimate estimate;
  MemoryBudget budget;
  bool fell_back = false;       //!< the first candidate did not fit
  std::vector<std::string> log;  //!< one line per candidate considered
};

//! The first candidate whose estimate fits its budget.
[[nodiscard]] Result<FitDecision> choose_model(const std::vector<ModelCandidate>& candidates,
                                               const ContextOptions& options);

}  // namespace keel::engine
