// Memory fit: estimates, refusals with numbers, and the fallback to a smaller candidate.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/memory_fit.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

TEST(MemoryFit, RefusesWithNumbersAndFallsBack) {
  TempDir dir;
  testing::TinyModelSpec big;
  big.n_embd = 256;
  big.n_ff = 1024;
  big.n_layer = 4;
  testing::write_tiny_model(big, dir.file("big.gguf"));
  testing::write_tiny_model({}, dir.file("small.gguf"));
  ContextOptions options;
  options.n_ctx = 256;
  auto big_estimate = estimate_model_memory(dir.file("big.gguf"), options);
  auto small_estimate = estimate_model_memory(dir.file("small.gguf"), options);
  ASSERT_TRUE(big_estimate.ok() && small_estimate.ok());
  EXPECT_GT(big_estimate->weight_bytes, small_estimate->weight_bytes);
  EXPECT_GT(big_estimate->kv_cache_bytes, 0u);
  // A budget between the two: the first candidate is refused, the fallback chosen.
  int64_t budget_mb = static_cast<int64_t>((big_estimate->total() + small_estimate->total()) / 2 / 1048576) + 1;
  if (budget_mb * 1048576 >= static_cast<int64_t>(big_estimate->total())) {
    budget_mb = static_cast<int64_t>(big_estimate->total() / 1048576);
  }
  std::vector<ModelCandidate> candidates = {{"main", dir.file("big.gguf"), budget_mb},
                                            {"small", dir.file("small.gguf"), budget_mb}};
  auto decision = choose_model(candidates, options);
  ASSERT_TRUE(decision.ok()) << decision.status().to_string();
  EXPECT_EQ(decision->chosen.id, "small");
  EXPECT_TRUE(decision->fell_back);
  ASSERT_EQ(decision->log.size(), 2u);
  EXPECT_NE(decision->log[0].find("does not fit"), std::string::npos);
  auto none = choose_model({{"main", dir.file("big.gguf"), 0}}, options);
  EXPECT_EQ(none.status().code(), StatusCode::resource_exhausted);
  EXPECT_NE(none.status().message().find("MiB"), std::string::npos);
  EXPECT_GT(read_memory_budget().mem_available_bytes, 0u);
  // A file that cannot be read is not a memory problem.
  auto missing = choose_model({{"main", dir.file("absent.gguf"), std::nullopt}}, options);
  EXPECT_EQ(missing.status().code(), StatusCode::not_found) << missing.status().to_string();
  EXPECT_EQ(missing.status().message().find("memory budget"), std::string::npos);
  EXPECT_NE(missing.status().message().find("absent.gguf"), std::string::npos);
  // One readable candidate that does not fit: the budget is the reason again.
  auto mixed = choose_model({{"gone", dir.file("absent.gguf"), 0}, {"main", dir.file("big.gguf"), 0}}, options);
  EXPECT_EQ(mixed.status().code(), StatusCode::resource_exhausted);
}

}  // namespace
}  // namespace keel::engine
