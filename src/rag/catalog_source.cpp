#include "rag/catalog_source.h"

#include <sys/stat.h>

#include "core/log.h"

namespace keel::rag {
namespace {

bool file_stamp(const std::string& path, int64_t* mtime_ns, int64_t* size) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  // The inode too: a file replaced by rename within the clock's tick is still seen as changed.
  *mtime_ns = (static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec) ^
              (static_cast<int64_t>(st.st_ino) * 1'000'003);
  *size = static_cast<int64_t>(st.st_size);
  return true;
}

}  // namespace

Result<std::shared_ptr<CatalogSource>> CatalogSource::open(std::string path) {
  std::shared_ptr<CatalogSource> s(new CatalogSource());
  s->path_ = std::move(path);
  file_stamp(s->path_, &s->mtime_ns_, &s->size_);
  KEEL_ASSIGN_OR_RETURN(semantic::MetricCatalog catalog, semantic::load_metric_catalog(s->path_));
  s->catalog_ = std::make_shared<const semantic::MetricCatalog>(std::move(catalog));
  s->loads_ = 1;
  return s;
}

std::shared_ptr<CatalogSource> CatalogSource::fixed(semantic::MetricCatalog catalog) {
  std::shared_ptr<CatalogSource> s(new CatalogSource());
  s->catalog_ = std::make_shared<const semantic::MetricCatalog>(std::move(catalog));
  s->loads_ = 1;
  return s;
}

std::shared_ptr<const semantic::MetricCatalog> CatalogSource::current() {
  std::lock_guard lock(mu_);
  if (path_.empty()) return catalog_;
  int64_t mtime = 0, size = 0;
  if (!file_stamp(path_, &mtime, &size) || (mtime == mtime_ns_ && size == size_)) return catalog_;
  mtime_ns_ = mtime;
  size_ = size;
  auto loaded = semantic::load_metric_catalog(path_);
  if (!loaded.ok()) {
    log_error("the changed metric catalog does not load; answers keep version {}: {}", catalog_->version,
              loaded.status().message());
    return catalog_;
  }
  log_info("metric catalog {} loaded (was {})", loaded->version, catalog_->version);
  catalog_ = std::make_shared<const semantic::MetricCatalog>(*std::move(loaded));
  ++loads_;
  return catalog_;
}

int CatalogSource::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

}  // namespace keel::rag
