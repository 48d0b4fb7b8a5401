// The metric catalog a server answers from, followed as its file changes: a new version of the
// catalog takes effect for the next answer without a restart, and every answer names the
// version it used (the one it read at its start, even if the file changes meanwhile).
//
// Contract:
// - open() reads the file once (its errors fail it). fixed() wraps a loaded catalog that never
//   changes (a one-shot command, an evaluation).
// - current() checks the file's modification time and size (one stat) and reads it again when
//   either changed; a new text that does not load keeps the last good catalog, and the error is
//   logged once per change. Thread-safe; the returned catalog stays valid while held.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"
#include "semantic/metric_catalog.h"

namespace keel::rag {

class CatalogSource {
 public:
  [[nodiscard]] static Result<std::shared_ptr<CatalogSource>> open(std::string path);
  static std::shared_ptr<CatalogSource> fixed(semantic::MetricCatalog catalog);

  std::shared_ptr<const semantic::MetricCatalog> current();
  //! How many catalogs were loaded (1 after open()).
  int loads() const;

 private:
  CatalogSource() = default;
  std::string path_;
  mutable std::mutex mu_;
  std::shared_ptr<const semantic::MetricCatalog> catalog_;
  int64_t mtime_ns_ = 0, size_ = -1;
  int loads_ = 0;
};

}  // namespace keel::rag
