#include "engine/memory_fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/gguf.h"
#include "engine/model_config.h"

namespace keel::engine {

namespace {

std::optional<uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return v;
}

std::string mib(uint64_t bytes) { return fmt::format("{:.0f} MiB", bytes / 1048576.0); }

}  // namespace

uint64_t MemoryBudget::usable_bytes() const {
  uint64_t usable = mem_available_bytes;
  if (cgroup_free_bytes) usable = std::min(usable, *cgroup_free_bytes);
  if (spec_limit_bytes) usable = std::min(usable, *spec_limit_bytes);
  return usable;
}

std::string MemoryBudget::describe() const {
  std::string out = fmt::format("available {}", mib(mem_available_bytes));
  if (cgroup_free_bytes) out += fmt::format(", cgroup allows {} more", mib(*cgroup_free_bytes));
  if (spec_limit_bytes) out += fmt::format(", max_ram_mb {}", *spec_limit_bytes / 1048576);
  return out;
}

std::string MemoryEstimate::describe() const {
  return fmt::format("{} (weights {} + KV cache {} + scratch {})", mib(total()), mib(weight_bytes),
                     mib(kv_cache_bytes), mib(scratch_bytes));
}

MemoryBudget read_memory_budget(std::optional<int64_t> max_ram_mb) {
  MemoryBudget b;
  if (FILE* f = std::fopen("/proc/meminfo", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "MemAvailable:", 13) == 0) {
        b.mem_available_bytes = std::strtoull(line + 13, nullptr, 10) * 1024;
      }
    }
    std::fclose(f);
  }
  // cgroup v2, then v1.
  auto limit = read_number("/sys/fs/cgroup/memory.max");
  auto usage = read_number("/sys/fs/cgroup/memory.current");
  if (!limit) {
    limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    usage = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    if (limit && *limit >= (1ull << 60)) limit.reset();  // v1 "unlimited"
  }
  if (limit) b.cgroup_free_bytes = *limit > usage.value_or(0) ? *limit - usage.value_or(0) : 0;
  if (max_ram_mb) b.spec_limit_bytes = static_cast<uint64_t>(*max_ram_mb) * 1048576;
  return b;
}

Result<MemoryEstimate> estimate_model_memory(const std::string& path, const ContextOptions& options) {
  KEEL_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
  KEEL_ASSIGN_OR_RETURN(ModelConfig config, ModelConfig::from_gguf(*file));
  MemoryEstimate e;
  for (const auto& t : file->tensors()) e.weight_bytes += t.n_bytes;
  // Tokenizer tables and other metadata live in the mapping too.
  e.weight_bytes += file->data_offset();
  e.kv_cache_bytes = config.arch == Architecture::bert
                         ? 0
                         : KvCache::bytes_for(config, std::max<int64_t>(1, options.n_seq_max) *
                                                          options.n_ctx, options.kv_type);
  e.scratch_bytes = Context::memory_bytes(config, options) - e.kv_cache_bytes;
  return e;
}

Result<FitDecision> choose_model(const std::vector<ModelCandidate>& candidates,
                                 const ContextOptions& options) {
  if (candidates.empty()) return Status::invalid_argument("no model to choose from");
  FitDecision d;
  Status first_unreadable;  // ok until a candidate cannot be read
  bool any_read = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const ModelCandidate& c = candidates[i];
    auto estimate = estimate_model_memory(c.path, options);
    if (!estimate.ok()) {
      if (first_unreadable.ok()) first_unreadable = estimate.status();
      d.log.push_back(fmt::format("{} ({}): {}", c.id, c.path, estimate.status().message()));
      continue;
    }
    any_read = true;
    MemoryBudget budget = read_memory_budget(c.max_ram_mb);
    bool fits = estimate->total() <= budget.usable_bytes();
    d.log.push_back(fmt::format("{} ({}): needs {}; {}: {}", c.id, c.path, estimate->describe(),
                                budget.describe(), fits ? "fits" : "does not fit"));
    if (fits) {
      d.chosen = c;
      d.estimate = *estimate;
      d.budget = budget;
      d.fell_back = i > 0;
      return d;
    }
  }
  if (!any_read) {
    // Not a question of memory: say what is wrong with the file, with its own status code.
    if (candidates.size() == 1) {
      return Status(first_unreadable.code(),
                    fmt::format("cannot use model {}: {}", candidates[0].id, first_unreadable.message()));
    }
    std::string message = "none of the models can be read:";
    for (const auto& line : d.log) message += "\n  " + line;
    return Status(first_unreadable.code(), message);
  }
  std::string message = "no model fits the memory budget:";
  for (const auto& line : d.log) message += "\n  " + line;
  return Status::resource_exhausted(message);
}

}  // namespace keel::engine
