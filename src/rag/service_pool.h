// A fixed set of answer services (each with its own warehouse and audit connections) shared by
// the threads that answer: the HTTP server's workers and the MCP tools.
//
// Contract: create() opens `size` services with `open` (the first failure fails it).
// lease() waits for a free service and returns it when the lease goes; thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/result.h"
#include "rag/answer_service.h"

namespace keel::rag {

class ServicePool {
 public:
  using Open = std::function<Result<std::unique_ptr<ConnectedAnswerService>>()>;
  [[nodiscard]] static Result<std::shared_ptr<ServicePool>> create(size_t size, const Open& open);

  class Lease {
   public:
    Lease(ServicePool* pool, std::unique_ptr<ConnectedAnswerService> s) : pool_(pool), s_(std::move(s)) {}
    Lease(Lease&&) = default;
    ~Lease();
    AnswerService& service() { return *s_->service; }

   private:
    ServicePool* pool_;
    std::unique_ptr<ConnectedAnswerService> s_;
  };
  Lease lease();

 private:
  ServicePool() = default;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<ConnectedAnswerService>> idle_;
};

}  // namespace keel::rag
