// /v1/embeddings work: admitted within the same bounds as generation, done off the I/O thread
// one slice of inputs at a time, and dropped when its client leaves.
//
// Contract:
// - submit() admits a job or refuses it as admit() refuses a generation request (429 reasons
//   queue_full and queue_wait, with a Retry-After from the measured rate): admitted jobs past
//   the one in progress count as waiting against AdmissionLimits::max_waiting, and the predicted
//   wait is one slice of every job ahead. It never blocks on the work.
// - One worker thread takes the jobs in turn (round robin), one slice (inputs_per_slice inputs,
//   tokenized and embedded) per turn, so a one-word request waits for one slice of each job
//   ahead of it, not for the whole of them.
// - A job whose `cancelled` flag is set (its client disconnected) is dropped before its next
//   slice: no more of its inputs are tokenized or embedded.
// - Each admitted job's on_done runs exactly once, on the worker thread (or in stop()), when it
//   is complete, failed (error set) or cancelled (cancelled set, vectors incomplete).
// - stop() cancels what is queued and joins the worker; the destructor calls it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "serve/admission.h"
#include "serve/serve_metrics.h"

namespace keel::serve {

struct EmbeddingJob {
  std::vector<std::string> inputs;
  std::atomic<bool> cancelled{false};
  //! Called once, on the worker thread, when the job ends (see the contract above).
  std::function<void(EmbeddingJob&)> on_done;
  // Results, written by the worker before on_done.
  std::vector<std::vector<float>> vectors;
  int64_t tokens = 0;
  std::string error;  //!< a problem with the inputs (the client's), e.g. one is too long
};

class EmbeddingQueue {
 public:
  //! Tokenizes and embeds a slice of inputs: one vector per input, adding their tokens to
  //! *tokens; an error names what is wrong with the inputs.
  using EmbedSlice = std::function<Result<std::vector<std::vector<float>>>(
      std::span<const std::string> inputs, int64_t* tokens)>;
  struct Options {
    size_t inputs_per_slice = 8;
    //! Fault injection: wait this long before each slice (a slower model), interrupted by stop().
    int64_t slice_delay_ms = 0;
  };

  EmbeddingQueue(EmbedSlice embed, Options options, ServeMetrics* metrics);
  ~EmbeddingQueue();
  EmbeddingQueue(const EmbeddingQueue&) = delete;
  EmbeddingQueue& operator=(const EmbeddingQueue&) = delete;

  //! Admits and queues `job`, or refuses it (job untouched, on_done not called).
  AdmissionDecision submit(std::shared_ptr<EmbeddingJob> job, const AdmissionLimits& limits);
  void stop();

  //! Jobs admitted and not ended.
  int64_t jobs() const { return jobs_.load(); }

 private:
  void loop();
  void end(EmbeddingJob& job, size_t done_inputs);

  EmbedSlice embed_;
  Options options_;
  ServeMetrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  struct Queued {
    std::shared_ptr<EmbeddingJob> job;
    size_t next = 0;  // inputs done
  };
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::atomic<int64_t> jobs_{0}, remaining_inputs_{0};
  std::atomic<double> slice_seconds_{0};  // moving average of one slice's wall time
  std::thread thread_;
};

}  // namespace keel::serve
