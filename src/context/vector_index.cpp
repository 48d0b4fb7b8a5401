#include "context/vector_index.h"

#include <fmt/format.h>
#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>

#include "core/hash.h"

namespace keel::context {

struct VectorIndex::Impl {
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
};

std::unique_ptr<VectorIndex> VectorIndex::create(int dims, size_t capacity) {
  std::unique_ptr<VectorIndex> v(new VectorIndex());
  v->dims_ = dims;
  v->impl_ = std::make_unique<Impl>();
  v->impl_->space = std::make_unique<hnswlib::InnerProductSpace>(dims);
  v->impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(v->impl_->space.get(),
                                                                     std::max<size_t>(capacity, 1), 16, 200, 42);
  return v;
}

VectorIndex::~VectorIndex() = default;

Result<std::unique_ptr<VectorIndex>> VectorIndex::load(const std::string& path, int dims, size_t expected,
                                                       const std::string& expected_sha256) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::not_found(fmt::format("vector index {} is missing; run `keel index` again", path));
  }
  auto digest = sha256_file(path);
  if (!digest.ok()) return digest.status();
  if (to_hex(*digest) != expected_sha256) {
    return Status::data_loss(fmt::format("vector index {} does not match the store (damaged or from "
                                         "another index run); run `keel index` again",
                                         path));
  }
  std::unique_ptr<VectorIndex> v(new VectorIndex());
  v->dims_ = dims;
  v->impl_ = std::make_unique<Impl>();
  v->impl_->space = std::make_unique<hnswlib::InnerProductSpace>(dims);
  try {
    v->impl_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(v->impl_->space.get(), path);
  } catch (const std::exception& e) {
    return Status::data_loss(fmt::format("vector index {} is unreadable ({}); run `keel index` again", path, e.what()));
  }
  if (v->impl_->hnsw->cur_element_count != expected) {
    return Status::data_loss(fmt::format("vector index {} holds {} vectors, the store {}; run `keel index` again",
                                         path, v->impl_->hnsw->cur_element_count, expected));
  }
  return v;
}

Status VectorIndex::add(int64_t chunk_id, std::span<const float> vector) {
  if (static_cast<int>(vector.size()) != dims_) {
    return Status::invalid_argument(fmt::format("vector of {} values for an index of {}", vector.size(), dims_));
  }
  try {
    if (impl_->hnsw->cur_element_count >= impl_->hnsw->max_elements_) {
      impl_->hnsw->resizeIndex(impl_->hnsw->max_elements_ * 2);
    }
    impl_->hnsw->addPoint(vector.data(), static_cast<hnswlib::labeltype>(chunk_id));
  } catch (const std::exception& e) {
    return Status::internal(fmt::format("vector index: {}", e.what()));
  }
  return Status();
}

Result<std::string> VectorIndex::save(const std::string& path) const {
  std::string temp = path + ".tmp";
  try {
    impl_->hnsw->saveIndex(temp);
  } catch (const std::exception& e) {
    return Status::unavailable(fmt::format("cannot write {}: {}", temp, e.what()));
  }
  auto digest = sha256_file(temp);
  if (!digest.ok()) return digest.status();
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::unavailable(fmt::format("cannot rename {} to {}", temp, path));
  }
  return to_hex(*digest);
}

std::vector<VectorHit> VectorIndex::search(std::span<const float> query, size_t k) const {
  std::vector<VectorHit> out;
  if (static_cast<int>(query.size()) != dims_ || size() == 0) return out;
  impl_->hnsw->setEf(std::max<size_t>(k * 4, 64));
  auto results = impl_->hnsw->searchKnn(query.data(), std::min(k, size()));
  while (!results.empty()) {
    // hnswlib's inner-product distance is 1 - similarity; the queue pops the farthest first.
    out.push_back({static_cast<int64_t>(results.top().second), 1.0f - results.top().first});
    results.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

size_t VectorIndex::size() const { return impl_->hnsw->cur_element_count; }

}  // namespace keel::context
