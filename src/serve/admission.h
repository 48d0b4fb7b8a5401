// Admission control: a request is admitted only while the queue stays within its bounds —
// waiting requests, queued tokens (prompt + max_tokens of everything admitted and unfinished),
// and what the KV cache can hold — so the queue, and memory, never grow without limit. Past a
// bound the answer is 429 with a Retry-After estimated from the current drain rate.
//
// With max_queue_wait_s set, a request is also refused when it would wait longer than that for
// a running slot: the n-th request past the free slots gets the slot the running requests free
// n-th (each one's remaining tokens times the measured step time); a slot that a queued request
// will take first frees no sooner than that request's own run; otherwise the position over the
// rate at which slots free up predicts. Under overload, admitted requests keep their
// time to first token instead of all getting slow.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/serving_defaults.h"

namespace keel::serve {

struct AdmissionLimits {
  int64_t max_waiting = serving_defaults::kMaxWaiting;
  int64_t max_queued_tokens = serving_defaults::kMaxQueuedTokens;  //!< 0: the KV cache's token capacity
  double min_retry_after_s = 1;
  double max_queue_wait_s = 0;  //!< 0: no bound on the predicted wait
};

struct QueueState {
  int64_t waiting = 0;
  int64_t running = 0;
  int64_t max_running = 1;  //!< running slots; a request that finds one free does not wait
  int64_t queued_tokens = 0;
  int64_t kv_token_capacity = 0;
  double drain_tokens_per_s = 0;
  double slot_release_per_s = 0;  //!< requests finished per second (0: not measured yet)
  //! Seconds until each running request frees its slot at the latest, ascending (may be empty).
  std::vector<double> slot_free_in_s;
  //! How long a request starting now holds its slot (its max_tokens times the step time): the
  //! wait for a slot taken by a request that has not started yet (0: not known).
  double new_request_hold_s = 0;
};

//! Predicted seconds a request waits for a slot when `position` requests (itself included) are
//! queued past the free slots; negative when nothing is known to predict from.
double predicted_slot_wait_s(const QueueState& state, int64_t position);

struct AdmissionDecision {
  bool admitted = true;
  std::string reason;  //!< queue_full | queued_tokens | queue_wait
  int retry_after_s = 0;
  std::string message;
};

AdmissionDecision admit(const QueueState& state, const AdmissionLimits& limits, int64_t request_tokens);

//! Seconds until `tokens_ahead` tokens drain at `rate` tokens/s, at least `floor_s`, at most 600.
int retry_after_seconds(int64_t tokens_ahead, double rate, double floor_s);

}  // namespace keel::serve
