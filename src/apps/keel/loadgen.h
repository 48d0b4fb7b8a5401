// `keel loadgen`: a load generator for OpenAI-compatible servers on this machine. Each of C
// concurrent clients sends streaming completions one after another until N requests were sent
// or the time limit passed, and the run reports throughput, TTFT/TPOT percentiles, goodput and
// errors by status.
//
// Contract: only loopback addresses are accepted (it is a benchmark tool, not a traffic
// generator for other hosts). Prompts are made of words from a fixed list so runs repeat; a
// shared prefix of T words starts every prompt when asked (to measure prefix reuse).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace keel::app {

struct LoadgenOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string model;  //!< default: the first model /v1/models lists
  int concurrency = 4;
  int64_t requests = 32;
  int64_t prompt_tokens = 64;   //!< words in each prompt (about one token each)
  int64_t max_tokens = 64;
  int64_t shared_prefix = 0;    //!< words shared by every prompt
  std::string api_key;
  double time_limit_s = 300;
  double slo_ttft_ms = 2000, slo_tpot_ms = 150;
  bool chat = false;
};

struct LoadgenReport {
  int64_t sent = 0, completed = 0;
  std::map<int, int64_t> status_counts;  //!< HTTP status -> count (0: connection error)
  int64_t generated_tokens = 0, prompt_tokens = 0, cached_tokens = 0;
  double seconds = 0;
  double tokens_per_s = 0;
  double ttft_p50_ms = 0, ttft_p95_ms = 0, ttft_p99_ms = 0;
  double tpot_p50_ms = 0, tpot_p95_ms = 0, tpot_p99_ms = 0;
  double e2e_p50_ms = 0, e2e_p99_ms = 0;
  double goodput = 0;  //!< share of completed requests meeting both objectives
  std::vector<int> retry_after_s;  //!< Retry-After values seen on 429s
  int64_t max_concurrent_streams = 0;
};

[[nodiscard]] Result<LoadgenReport> run_loadgen(const LoadgenOptions& options);

}  // namespace keel::app
