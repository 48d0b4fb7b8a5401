#include "context/indexer.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "context/contained_path.h"
#include "context/embedder.h"
#include "context/vector_index.h"
#include "core/clock.h"
#include "core/hash.h"

namespace keel::context {

std::string_view file_outcome_name(FileOutcome o) {
  switch (o) {
    case FileOutcome::indexed: return "indexed";
    case FileOutcome::unchanged: return "unchanged";
    case FileOutcome::touched: return "unchanged (touched)";
    case FileOutcome::removed: return "removed";
    case FileOutcome::skipped: return "skipped";
    case FileOutcome::failed: return "failed";
  }
  return "?";
}

namespace {

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator<(const FileId& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
};

// Walks with stat (following links) and remembers every folder by device and inode, so a
// symlink loop is noticed instead of followed forever. A link is followed only while it stays
// inside the documents folder (contained_path.h).
void walk(const std::string& root, const std::string& rel, std::set<FileId>& seen_dirs, FolderListing& out,
          int depth) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  if (depth > 64) {
    out.refused.emplace_back(rel, "folders nested more than 64 deep");
    return;
  }
  DIR* d = opendir(dir.c_str());
  if (!d) {
    out.refused.emplace_back(rel.empty() ? "." : rel, fmt::format("cannot read folder: {}", std::strerror(errno)));
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name[0] == '.') continue;  // hidden files stay private
    names.push_back(std::move(name));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string child_rel = rel.empty() ? name : rel + "/" + name;
    std::string path = root + "/" + child_rel;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      auto inside = resolve_inside(root, child_rel);
      if (!inside.ok()) {
        out.refused.emplace_back(child_rel, inside.status().code() == StatusCode::permission_denied
                                                ? "symbolic link that leads outside the documents folder"
                                                : inside.status().message());
        continue;
      }
    }
    if (::stat(path.c_str(), &st) != 0) {
      out.refused.emplace_back(child_rel, errno == ELOOP ? std::string("symlink loop")
                                                         : fmt::format("cannot stat: {}", std::strerror(errno)));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (!seen_dirs.insert({st.st_dev, st.st_ino}).second) {
        out.refused.emplace_back(child_rel, "symlink loop (folder already visited)");
        continue;
      }
      walk(root, child_rel, seen_dirs, out, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      out.files.push_back(child_rel);
    }
  }
}

Result<Sha256Digest> hash_bytes_of(const std::string& path) { return sha256_file(path); }

// Whether the file system holding `path` has (almost) no byte left.
bool disk_full_at(const std::string& path) {
  struct statvfs fs {};
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &fs) != 0) return false;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < (64u << 10);
}

// The vector index is rebuilt from the store whenever documents changed (or it is missing).
// hnswlib writes through an unchecked stream, so a full disk leaves a short file that looks
// saved: the new index is written beside the old one, read back, and only then put in place,
// so the store's recorded index stays whole whatever happens.
Status rebuild_vector_index(DocumentStore& store, int dims, int64_t n_vectors) {
  auto index = VectorIndex::create(dims, static_cast<size_t>(n_vectors));
  KEEL_RETURN_IF_ERROR(store.for_each_vector([&](int64_t id, std::span<const float> v) {
    return index->add(id, v);
  }));
  const std::string path = VectorIndex::path_for_store(store.path()), next = path + ".next";
  std::error_code ec;
  auto saved = index->save(next);
  auto verified =
      saved.ok() ? VectorIndex::load(next, dims, index->size(), *saved).status() : saved.status();
  if (!verified.ok()) {
    std::filesystem::remove(next, ec);
    std::filesystem::remove(next + ".tmp", ec);
    if (disk_full_at(path)) {
      return Status::resource_exhausted(
          fmt::format("{}: disk full while writing the vector index", path));
    }
    return verified;
  }
  std::filesystem::rename(next, path, ec);
  if (ec)
    return Status::unavailable(fmt::format("cannot rename {} to {}: {}", next, path, ec.message()));
  KEEL_RETURN_IF_ERROR(store.set_meta("vector_index_sha256", *saved));
  return store.set_meta("vector_index_chunks", std::to_string(n_vectors));
}

}  // namespace

FolderListing list_documents(const std::string& dir) {
  FolderListing out;
  std::set<FileId> seen;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) seen.insert({st.st_dev, st.st_ino});
  walk(dir, "", seen, out, 0);
  return out;
}

namespace {

Result<IndexReport> index_into_store(const IndexOptions& o,
                                     const std::function<void(const FileEvent&)>& progress) {
  const int64_t start_ns = monotonic_now_ns();
  std::error_code ec;
  if (!std::filesystem::is_directory(o.docs_dir, ec)) {
    return Status::not_found(fmt::format("documents folder {} does not exist", o.docs_dir));
  }
  KEEL_ASSIGN_OR_RETURN(auto store, DocumentStore::open(o.store_path, /*read_only=*/false));
  const std::string docs_root = std::filesystem::weakly_canonical(o.docs_dir).string();
  KEEL_ASSIGN_OR_RETURN(auto stored_root, store->meta("docs_root"));
  if (!stored_root) KEEL_RETURN_IF_ERROR(store->set_meta("docs_root", docs_root));

  std::unique_ptr<Embedder> embedder;
  if (o.embed_model) {
    KEEL_ASSIGN_OR_RETURN(embedder, Embedder::open(*o.embed_model, o.threads));
    KEEL_ASSIGN_OR_RETURN(auto stored_model, store->meta("embed_model"));
    if (stored_model && *stored_model != embedder->model_id()) {
      return Status::failed_precondition(fmt::format(
          "{} was indexed with embedding model {}; this run uses {}. Index into a new store, or "
          "use the same model",
          o.store_path, *stored_model, embedder->model_id()));
    }
    KEEL_RETURN_IF_ERROR(store->set_meta("embed_model", embedder->model_id()));
    KEEL_RETURN_IF_ERROR(store->set_meta("embed_dims", std::to_string(embedder->dims())));
  } else {
    KEEL_ASSIGN_OR_RETURN(auto stored_model, store->meta("embed_model"));
    if (stored_model) {
      return Status::failed_precondition(fmt::format(
          "{} holds vectors from {}; pass --embed-model with that model to keep them current",
          o.store_path, *stored_model));
    }
  }

  IndexReport report;
  FolderListing listing = list_documents(o.docs_dir);
  for (const auto& [path, reason] : listing.refused) report.skipped.emplace_back(path, reason);
  std::set<std::string> seen;
  size_t index = 0;
  bool changed = false;
  // Before the first document changes, the recorded vector index stops counting as current:
  // if the run dies before the index is rebuilt (a full disk), the next run rebuilds it.
  bool vectors_marked_stale = false;
  auto will_change = [&]() -> Status {
    if (!embedder || vectors_marked_stale) return Status();
    vectors_marked_stale = true;
    return store->set_meta("vector_index_chunks", "stale");
  };
  auto emit = [&](const std::string& path, FileOutcome outcome, std::string detail) {
    if (progress) progress({index, listing.files.size(), path, outcome, std::move(detail)});
  };

  for (const std::string& rel : listing.files) {
    ++index;
    const std::string path = o.docs_dir + "/" + rel;
    auto kind = kind_from_path(rel);
    if (!kind) {
      report.skipped.emplace_back(rel, "not a text, Markdown, HTML or PDF file");
      emit(rel, FileOutcome::skipped, report.skipped.back().second);
      continue;
    }
    seen.insert(rel);
    // Again right before reading: the file may have become a link since the walk.
    if (auto inside = resolve_inside(o.docs_dir, rel); !inside.ok()) {
      report.failed.emplace_back(rel, inside.status().message());
      emit(rel, FileOutcome::failed, report.failed.back().second);
      continue;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      report.failed.emplace_back(rel, std::strerror(errno));
      emit(rel, FileOutcome::failed, report.failed.back().second);
      continue;
    }
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    KEEL_ASSIGN_OR_RETURN(auto existing, store->document(rel));
    if (existing && existing->size == static_cast<uint64_t>(st.st_size) && existing->mtime_ns == mtime_ns) {
      ++report.unchanged;
      emit(rel, FileOutcome::unchanged, "");
      continue;
    }
    if (static_cast<uint64_t>(st.st_size) > o.max_file_bytes) {
      report.skipped.emplace_back(rel, fmt::format("{} bytes is over the {} byte limit", st.st_size, o.max_file_bytes));
      emit(rel, FileOutcome::skipped, report.skipped.back().second);
      continue;
    }
    auto digest = hash_bytes_of(path);
    if (!digest.ok()) {
      report.failed.emplace_back(rel, digest.status().message());
      emit(rel, FileOutcome::failed, report.failed.back().second);
      continue;
    }
    const std::string sha = to_hex(*digest);
    if (existing && existing->sha256 == sha) {
      KEEL_RETURN_IF_ERROR(store->touch_document(existing->id, mtime_ns));
      ++report.touched;
      emit(rel, FileOutcome::touched, "same content, new modification time");
      continue;
    }
    auto extracted = extract_file(path, o.max_file_bytes);
    if (!extracted.ok()) {
      const Status& s = extracted.status();
      // Unreadable content is a skip with its reason; an I/O failure is a failure.
      bool skip = s.code() == StatusCode::invalid_argument || s.code() == StatusCode::resource_exhausted ||
                  s.code() == StatusCode::permission_denied || s.code() == StatusCode::unimplemented;
      std::string reason = s.message();
      if (reason.rfind(path + ": ", 0) == 0) reason = reason.substr(path.size() + 2);
      (skip ? report.skipped : report.failed).emplace_back(rel, reason);
      emit(rel, skip ? FileOutcome::skipped : FileOutcome::failed, reason);
      if (existing) {
        KEEL_RETURN_IF_ERROR(will_change());
        KEEL_RETURN_IF_ERROR(store->remove_document(rel));  // its old text no longer exists
        changed = true;
      }
      continue;
    }
    StoredDocument doc;
    doc.path = rel;
    doc.kind = extracted->kind;
    doc.size = static_cast<uint64_t>(st.st_size);
    doc.mtime_ns = mtime_ns;
    doc.sha256 = sha;
    doc.text_bytes = extracted->text.size();
    doc.pages = static_cast<int>(extracted->pages.size());
    doc.title = extracted->title;
    std::vector<NewChunk> chunks;
    std::vector<std::string> texts;
    int ordinal = 0;
    for (const ChunkRange& r : chunk_pages(extracted->text, extracted->pages, o.chunking)) {
      NewChunk c;
      c.chunk.ordinal = ordinal++;
      c.chunk.start = r.start;
      c.chunk.end = r.end;
      c.chunk.page = extracted->page_at(r.start);
      c.chunk.text = extracted->text.substr(r.start, r.end - r.start);
      c.chunk.sha256 = sha256_hex(c.chunk.text);
      texts.push_back(c.chunk.text);
      chunks.push_back(std::move(c));
    }
    if (embedder) {
      double before = embedder->stats().seconds;
      auto vectors = embedder->embed(texts);
      if (!vectors.ok()) {
        report.failed.emplace_back(rel, vectors.status().message());
        emit(rel, FileOutcome::failed, report.failed.back().second);
        continue;
      }
      for (size_t i = 0; i < chunks.size(); ++i) chunks[i].vector = std::move((*vectors)[i]);
      report.chunks_embedded += static_cast<int64_t>(chunks.size());
      report.embed_seconds += embedder->stats().seconds - before;
    }
    KEEL_RETURN_IF_ERROR(will_change());
    KEEL_RETURN_IF_ERROR(store->replace_document(doc, chunks));
    changed = true;
    ++report.indexed;
    report.chunks_added += static_cast<int64_t>(chunks.size());
    report.bytes_indexed += doc.size;
    emit(rel, FileOutcome::indexed, fmt::format("{} chunks, {} bytes{}", chunks.size(), doc.size,
                                                doc.pages ? fmt::format(", {} pages", doc.pages) : ""));
  }

  KEEL_ASSIGN_OR_RETURN(auto documents, store->documents());
  for (const auto& d : documents) {
    if (seen.count(d.path)) continue;
    KEEL_RETURN_IF_ERROR(will_change());
    KEEL_RETURN_IF_ERROR(store->remove_document(d.path));
    ++report.removed;
    changed = true;
    emit(d.path, FileOutcome::removed, "no longer in the folder");
  }

  KEEL_ASSIGN_OR_RETURN(report.chunks_in_store, store->count_chunks());
  KEEL_ASSIGN_OR_RETURN(auto remaining, store->documents());
  report.documents_in_store = static_cast<int64_t>(remaining.size());
  if (embedder) {
    const std::string index_path = VectorIndex::path_for_store(o.store_path);
    KEEL_ASSIGN_OR_RETURN(auto recorded, store->meta("vector_index_sha256"));
    // The index covers this many chunks: a rebuild that failed (a full disk) leaves the old
    // count, so the next run rebuilds even though no document changes any more.
    KEEL_ASSIGN_OR_RETURN(auto covered, store->meta("vector_index_chunks"));
    bool current = std::filesystem::exists(index_path, ec) && recorded &&
                   covered == std::optional<std::string>(std::to_string(report.chunks_in_store)) &&
                   [&] {
                     auto digest = sha256_file(index_path);
                     return digest.ok() && to_hex(*digest) == *recorded;
                   }();
    if (changed || !current) {
      KEEL_RETURN_IF_ERROR(rebuild_vector_index(*store, embedder->dims(), report.chunks_in_store));
    }
  }
  KEEL_RETURN_IF_ERROR(store->seal());
  report.seconds = (monotonic_now_ns() - start_ns) / 1e9;
  return report;
}

}  // namespace

Result<IndexReport> index_documents(const IndexOptions& o,
                                    const std::function<void(const FileEvent&)>& progress) {
  auto report = index_into_store(o, progress);
  // SQLite says "database or disk is full" from whichever statement met ENOSPC (opening the
  // store, a document's transaction, sealing it): say what it means for the store.
  if (!report.ok() && report.status().code() == StatusCode::resource_exhausted &&
      (report.status().message().find("disk is full") != std::string::npos ||
       report.status().message().find("disk full") != std::string::npos)) {
    return Status::resource_exhausted(
        fmt::format("indexing into {} stopped: the disk is full. Documents indexed before are "
                    "intact and none is half-written; "
                    "free space and run `keel index` again ({})",
                    o.store_path, report.status().message()));
  }
  return report;
}

Result<FreshnessReport> check_freshness(DocumentStore& store, const std::string& docs_dir) {
  FreshnessReport r;
  KEEL_ASSIGN_OR_RETURN(auto documents, store.documents());
  std::set<std::string> known;
  for (const auto& d : documents) {
    known.insert(d.path);
    const std::string path = docs_dir + "/" + d.path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      r.missing.push_back(d.path);
      continue;
    }
    const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (static_cast<uint64_t>(st.st_size) == d.size && mtime_ns == d.mtime_ns) {
      r.fresh.push_back(d.path);
      continue;
    }
    auto digest = sha256_file(path);
    if (digest.ok() && to_hex(*digest) == d.sha256) {
      r.fresh.push_back(d.path);
    } else {
      r.stale.push_back(d.path);
    }
  }
  for (const auto& f : list_documents(docs_dir).files) {
    if (kind_from_path(f) && !known.count(f)) r.unindexed.push_back(f);
  }
  return r;
}

}  // namespace keel::context
