// Indexing a folder of documents into a document store, incrementally: new files are added,
// changed ones (size or mtime differ, then the SHA-256 confirms) re-indexed, deleted ones
// removed; unchanged files are not read.
//
// Contract:
// - Each document is indexed in its own transaction: a crash or a bad file never leaves a
//   half-written document. Files that cannot be indexed (binary, invalid UTF-8, empty, too
//   large, unreadable, symlink loops, unsupported kinds) are reported with the reason and the
//   run continues.
// - Memory stays bounded by one document (plus its chunks' vectors) whatever the corpus size;
//   the nearest-neighbour index is rebuilt from the store at the end.
// - Progress (one event per file) goes to the callback.
// - A full disk (ENOSPC) stops the run with resource_exhausted naming the store; the
//   document being written rolls back, the ones before stay, the vector index in place is
//   never replaced by a short file, and a later run after freeing space continues.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "context/chunker.h"
#include "context/store.h"
#include "core/result.h"

namespace keel::context {

struct IndexOptions {
  std::string docs_dir;
  std::string store_path;
  std::optional<std::string> embed_model;  //!< BERT-family GGUF; without it: BM25 only
  uint64_t max_file_bytes = kDefaultMaxDocumentBytes;
  ChunkOptions chunking;
  int threads = 0;
};

enum class FileOutcome { indexed, unchanged, touched, removed, skipped, failed };
std::string_view file_outcome_name(FileOutcome o);

struct FileEvent {
  size_t index = 0;  //!< 1-based position among the files seen
  size_t total = 0;
  std::string path;  //!< relative to docs_dir
  FileOutcome outcome = FileOutcome::indexed;
  std::string detail;  //!< chunks and bytes, or the reason
};

struct IndexReport {
  size_t indexed = 0, unchanged = 0, touched = 0, removed = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  //!< path, reason
  std::vector<std::pair<std::string, std::string>> failed;   //!< path, reason
  int64_t chunks_added = 0;
  uint64_t bytes_indexed = 0;
  int64_t chunks_embedded = 0;
  double embed_seconds = 0;
  double seconds = 0;
  int64_t documents_in_store = 0;
  int64_t chunks_in_store = 0;
};

[[nodiscard]] Result<IndexReport> index_documents(const IndexOptions& options,
                                                  const std::function<void(const FileEvent&)>& progress = {});

//! Compares a store with a documents folder without changing anything.
struct FreshnessReport {
  std::vector<std::string> fresh, stale, missing, unindexed;
};
[[nodiscard]] Result<FreshnessReport> check_freshness(DocumentStore& store, const std::string& docs_dir);

//! Every indexable file under `dir` (relative paths, sorted), and the ones refused by the walk
//! itself (symlink loops, unreadable folders) with the reason.
struct FolderListing {
  std::vector<std::string> files;
  std::vector<std::pair<std::string, std::string>> refused;
};
FolderListing list_documents(const std::string& dir);

}  // namespace keel::context
