#include "serve/admission.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace keel::serve {

int retry_after_seconds(int64_t tokens_ahead, double rate, double floor_s) {
  // Without a measured rate yet, assume a modest one rather than promising too soon.
  double r = rate > 1 ? rate : 50.0;
  double seconds = std::ceil(static_cast<double>(std::max<int64_t>(tokens_ahead, 0)) / r);
  return static_cast<int>(std::clamp(seconds, std::max(1.0, std::ceil(floor_s)), 600.0));
}

double predicted_slot_wait_s(const QueueState& s, int64_t position) {
  if (position <= 0) return 0;
  if (position <= static_cast<int64_t>(s.slot_free_in_s.size())) return s.slot_free_in_s[position - 1];
  const double by_rate = s.slot_release_per_s > 0 ? static_cast<double>(position) / s.slot_release_per_s : -1;
  return std::max(by_rate, s.new_request_hold_s > 0 ? s.new_request_hold_s : -1.0);
}

AdmissionDecision admit(const QueueState& s, const AdmissionLimits& l, int64_t request_tokens) {
  const int64_t token_bound = l.max_queued_tokens > 0 ? l.max_queued_tokens : s.kv_token_capacity;
  AdmissionDecision d;
  // Requests that will wait once this one is queued: those beyond the free running slots.
  const int64_t would_wait = std::max<int64_t>(0, s.waiting + s.running + 1 - std::max<int64_t>(s.max_running, 1));
  if (would_wait > l.max_waiting) {
    d = {false, "queue_full", 0,
         fmt::format("the server is at capacity: {} requests are waiting (limit {})", s.waiting, l.max_waiting)};
  } else if (token_bound > 0 && s.queued_tokens + request_tokens > token_bound) {
    d = {false, "queued_tokens", 0,
         fmt::format("the server is at capacity: {} tokens are queued and this request adds {} (limit {})",
                     s.queued_tokens, request_tokens, token_bound)};
  } else if (const double wait = l.max_queue_wait_s > 0 ? predicted_slot_wait_s(s, would_wait) : -1;
             wait > l.max_queue_wait_s) {
    d = {false, "queue_wait", 0,
         fmt::format("the server is at capacity: this request would wait about {:.1f} s for a slot (limit {:.1f} s)",
                     wait, l.max_queue_wait_s)};
    d.retry_after_s = static_cast<int>(std::clamp(std::ceil(wait), std::max(1.0, std::ceil(l.min_retry_after_s)), 600.0));
    return d;
  } else {
    return d;
  }
  d.retry_after_s = retry_after_seconds(s.queued_tokens, s.drain_tokens_per_s, l.min_retry_after_s);
  return d;
}

}  // namespace keel::serve
