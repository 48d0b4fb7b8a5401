// The document store: one SQLite file holding documents (path, size, mtime, SHA-256), their
// chunks (byte ranges into the extracted text, each with its own SHA-256 and text), an FTS5
// index for BM25, and the chunks' embedding vectors. The approximate-nearest-neighbour index
// over the vectors lives in a file beside it (see vector_index.h).
//
// Contract:
// - open() checks the schema version and the database's integrity and says what is wrong;
//   read_only opens with SQLITE_OPEN_READONLY so answering can never modify the store.
// - replace_document() and remove_document() are atomic: a crash leaves the previous state.
// - Paths are stored relative to the documents folder recorded in the store.
#pragma once

#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "context/extract.h"
#include "core/result.h"
#include "core/sqlite_db.h"

namespace keel::context {

inline constexpr int kStoreSchemaVersion = 1;

struct StoredDocument {
  int64_t id = 0;
  std::string path;  //!< relative to the documents folder
  DocumentKind kind = DocumentKind::text;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string sha256;  //!< of the file's bytes
  uint64_t text_bytes = 0;
  int pages = 0;
  std::string title;
};

struct StoredChunk {
  int64_t id = 0;
  int64_t doc_id = 0;
  int ordinal = 0;
  uint64_t start = 0;  //!< byte range in the document's extracted text
  uint64_t end = 0;
  int page = 0;        //!< 0 when the document has no pages
  std::string sha256;  //!< of the extracted text in [start, end)
  std::string text;
};

struct NewChunk {
  StoredChunk chunk;
  std::vector<float> vector;  //!< empty when the store has no embedding model
};

class DocumentStore {
 public:
  [[nodiscard]] static Result<std::unique_ptr<DocumentStore>> open(const std::string& path,
                                                                   bool read_only);

  const std::string& path() const { return db_->path(); }
  bool read_only() const { return read_only_; }

  [[nodiscard]] Result<std::optional<std::string>> meta(const std::string& key);
  [[nodiscard]] Status set_meta(const std::string& key, const std::string& value);

  [[nodiscard]] Result<std::vector<StoredDocument>> documents();
  [[nodiscard]] Result<std::optional<StoredDocument>> document(const std::string& path);
  [[nodiscard]] Result<StoredDocument> document_by_id(int64_t id);
  //! Inserts or replaces a document and all its chunks in one transaction.
  [[nodiscard]] Status replace_document(const StoredDocument& doc, const std::vector<NewChunk>& chunks);
  //! Records a new mtime for a file whose bytes did not change.
  [[nodiscard]] Status touch_document(int64_t id, int64_t mtime_ns);
  [[nodiscard]] Status remove_document(const std::string& path);

  [[nodiscard]] Result<StoredChunk> chunk(int64_t id);
  //! The chunk that comes right after `chunk` in its document; nullopt after the last one.
  [[nodiscard]] Result<std::optional<StoredChunk>> next_chunk(const StoredChunk& chunk);
  //! BM25 over chunk text: (chunk id, score) best first; higher score is better.
  [[nodiscard]] Result<std::vector<std::pair<int64_t, double>>> search_bm25(const std::string& query, int limit);
  //! Streams every stored vector (chunk id, values), for building the nearest-neighbour index.
  [[nodiscard]] Status for_each_vector(const std::function<Status(int64_t, std::span<const float>)>& visit);
  [[nodiscard]] Result<int64_t> count_chunks();
  //! Folds the write-ahead log into the file and leaves it in rollback-journal mode, so the
  //! store is one self-contained file that read-only processes can open.
  [[nodiscard]] Status seal();

  //! The FTS5 query for free text: its words, quoted, joined with OR; "" when none.
  static std::string fts_query(const std::string& text);
  //! The distinct content words of a text (lower-case, stopwords dropped), in order.
  static std::vector<std::string> query_terms(const std::string& text);
  //! Whether any chunk of the document holds the term (matched as the full-text index does).
  [[nodiscard]] Result<bool> document_mentions(int64_t doc_id, const std::string& term);
  //! In how many chunks each term occurs (0 for unknown terms).
  [[nodiscard]] Result<std::vector<int64_t>> term_chunk_counts(const std::vector<std::string>& terms);

 private:
  DocumentStore() = default;
  Status create_schema();
  std::unique_ptr<Database> db_;
  bool read_only_ = false;
};

//! Where a named deployment keeps its index by default: $XDG_CACHE_HOME (or ~/.cache, else
//! /tmp)/keel/<name>/store.db; the folder is created with mode 0700 (the index holds the user's
//! private text).
std::string default_store_path(const std::string& deployment_name);

}  // namespace keel::context
