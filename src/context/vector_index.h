// Approximate nearest neighbours over chunk vectors (hnswlib, inner product on unit vectors,
// i.e. cosine similarity), saved in a file beside the document store ("<store>.hnsw").
//
// Contract: build() takes vectors one by one; save() writes atomically and returns the file's
// SHA-256; load() refuses a file whose SHA-256 differs from the one recorded at indexing (hnswlib
// itself trusts its input, so a damaged file never reaches it) and checks dimension and count;
// any mismatch is data_loss (the next `keel index` rebuilds the file). search() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace keel::context {

struct VectorHit {
  int64_t chunk_id;
  float similarity;
};

class VectorIndex {
 public:
  //! An empty index for up to `capacity` vectors of `dims` values.
  static std::unique_ptr<VectorIndex> create(int dims, size_t capacity);
  [[nodiscard]] static Result<std::unique_ptr<VectorIndex>> load(const std::string& path, int dims,
                                                                 size_t expected_count,
                                                                 const std::string& expected_sha256);
  ~VectorIndex();

  [[nodiscard]] Status add(int64_t chunk_id, std::span<const float> vector);
  //! Writes the index; returns the SHA-256 of the file written.
  [[nodiscard]] Result<std::string> save(const std::string& path) const;
  std::vector<VectorHit> search(std::span<const float> query, size_t k) const;
  size_t size() const;
  int dims() const { return dims_; }

  static std::string path_for_store(const std::string& store_path) { return store_path + ".hnsw"; }

 private:
  VectorIndex() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int dims_ = 0;
};

}  // namespace keel::context
