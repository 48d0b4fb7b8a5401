#include "rag/service_pool.h"

namespace keel::rag {

Result<std::shared_ptr<ServicePool>> ServicePool::create(size_t size, const Open& open) {
  std::shared_ptr<ServicePool> pool(new ServicePool());
  for (size_t i = 0; i < std::max<size_t>(1, size); ++i) {
    KEEL_ASSIGN_OR_RETURN(auto s, open());
    pool->idle_.push_back(std::move(s));
  }
  return pool;
}

ServicePool::Lease ServicePool::lease() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty(); });
  auto s = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(s));
}

ServicePool::Lease::~Lease() {
  if (!s_) return;  // moved from
  {
    std::lock_guard lock(pool_->mu_);
    pool_->idle_.push_back(std::move(s_));
  }
  pool_->cv_.notify_one();
}

}  // namespace keel::rag
