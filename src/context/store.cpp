#include "context/store.h"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

namespace keel::context {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  text_bytes INTEGER NOT NULL,
  pages INTEGER NOT NULL,
  title TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
  id INTEGER PRIMARY KEY,
  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  page INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab('chunks_fts', 'row');
CREATE TABLE IF NOT EXISTS vectors(
  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  vector BLOB NOT NULL);
)sql";

DocumentKind kind_from_name(const std::string& name) {
  if (name == "markdown") return DocumentKind::markdown;
  if (name == "html") return DocumentKind::html;
  if (name == "pdf") return DocumentKind::pdf;
  return DocumentKind::text;
}

StoredDocument read_document(const Statement& s) {
  StoredDocument d;
  d.id = s.column_int(0);
  d.path = s.column_text(1);
  d.kind = kind_from_name(s.column_text(2));
  d.size = static_cast<uint64_t>(s.column_int(3));
  d.mtime_ns = s.column_int(4);
  d.sha256 = s.column_text(5);
  d.text_bytes = static_cast<uint64_t>(s.column_int(6));
  d.pages = static_cast<int>(s.column_int(7));
  d.title = s.column_text(8);
  return d;
}

constexpr const char* kDocumentColumns = "id, path, kind, size, mtime_ns, sha256, text_bytes, pages, title";

}  // namespace

Result<std::unique_ptr<DocumentStore>> DocumentStore::open(const std::string& path, bool read_only) {
  std::error_code ec;
  if (read_only && !std::filesystem::exists(path, ec)) {
    return Status::not_found(fmt::format("no document store at {}; build one with `keel index`", path));
  }
  std::unique_ptr<DocumentStore> store(new DocumentStore());
  store->read_only_ = read_only;
  SqliteOptions options;
  options.read_only = read_only;
  options.integrity_check = true;
  auto db = Database::open(path, options);
  if (!db.ok()) {
    return Status(db.status().code() == StatusCode::data_loss ? StatusCode::data_loss : db.status().code(),
                  fmt::format("{} is not a usable document store: {}", path, db.status().message()));
  }
  store->db_ = std::move(*db);
  if (!read_only) KEEL_RETURN_IF_ERROR(store->create_schema());
  auto version = store->meta("schema_version");
  if (!version.ok()) {
    return Status::data_loss(fmt::format("{} is not a keel document store ({})", path, version.status().message()));
  }
  if (!*version) return Status::data_loss(fmt::format("{} is not a keel document store", path));
  if (**version != std::to_string(kStoreSchemaVersion)) {
    return Status::failed_precondition(fmt::format("{} has store schema version {}; this keel reads {}; "
                                                   "index again into a new store",
                                                   path, **version, kStoreSchemaVersion));
  }
  return store;
}

Status DocumentStore::create_schema() {
  KEEL_RETURN_IF_ERROR(db_->exec(kSchema));
  KEEL_ASSIGN_OR_RETURN(auto version, meta("schema_version"));
  if (!version) KEEL_RETURN_IF_ERROR(set_meta("schema_version", std::to_string(kStoreSchemaVersion)));
  return Status();
}

Result<std::optional<std::string>> DocumentStore::meta(const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT value FROM meta WHERE key = ?"));
  s.bind(1, key);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.column_text(0));
}

Status DocumentStore::set_meta(const std::string& key, const std::string& value) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)"));
  return s.bind(1, key).bind(2, value).run();
}

Result<std::vector<StoredDocument>> DocumentStore::documents() {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(fmt::format("SELECT {} FROM documents ORDER BY path", kDocumentColumns)));
  std::vector<StoredDocument> out;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out.push_back(read_document(s));
  }
  return out;
}

Result<std::optional<StoredDocument>> DocumentStore::document(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(fmt::format("SELECT {} FROM documents WHERE path = ?", kDocumentColumns)));
  s.bind(1, path);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<StoredDocument>();
  return std::optional<StoredDocument>(read_document(s));
}

Result<StoredDocument> DocumentStore::document_by_id(int64_t id) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(fmt::format("SELECT {} FROM documents WHERE id = ?", kDocumentColumns)));
  s.bind(1, id);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return Status::not_found(fmt::format("{}: no document with id {}", path(), id));
  return read_document(s);
}

Status DocumentStore::replace_document(const StoredDocument& doc, const std::vector<NewChunk>& chunks) {
  KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
  {
    KEEL_ASSIGN_OR_RETURN(Statement del, db_->prepare("DELETE FROM documents WHERE path = ?"));
    KEEL_RETURN_IF_ERROR(del.bind(1, doc.path).run());
  }
  KEEL_ASSIGN_OR_RETURN(Statement ins, db_->prepare(
      "INSERT INTO documents(path, kind, size, mtime_ns, sha256, text_bytes, pages, title) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  KEEL_RETURN_IF_ERROR(ins.bind(1, doc.path)
                           .bind(2, document_kind_name(doc.kind))
                           .bind(3, static_cast<int64_t>(doc.size))
                           .bind(4, doc.mtime_ns)
                           .bind(5, doc.sha256)
                           .bind(6, static_cast<int64_t>(doc.text_bytes))
                           .bind(7, static_cast<int64_t>(doc.pages))
                           .bind(8, doc.title)
                           .run());
  const int64_t doc_id = db_->last_insert_id();
  KEEL_ASSIGN_OR_RETURN(Statement chunk, db_->prepare(
      "INSERT INTO chunks(doc_id, ordinal, start, end, page, sha256, text) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  KEEL_ASSIGN_OR_RETURN(Statement vec, db_->prepare("INSERT INTO vectors(chunk_id, vector) VALUES (?, ?)"));
  for (const NewChunk& c : chunks) {
    KEEL_RETURN_IF_ERROR(chunk.bind(1, doc_id)
                             .bind(2, static_cast<int64_t>(c.chunk.ordinal))
                             .bind(3, static_cast<int64_t>(c.chunk.start))
                             .bind(4, static_cast<int64_t>(c.chunk.end))
                             .bind(5, static_cast<int64_t>(c.chunk.page))
                             .bind(6, c.chunk.sha256)
                             .bind(7, c.chunk.text)
                             .run());
    if (!c.vector.empty()) {
      const int64_t chunk_id = db_->last_insert_id();
      std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(c.vector.data()), c.vector.size() * 4);
      KEEL_RETURN_IF_ERROR(vec.bind(1, chunk_id).bind_blob(2, bytes).run());
    }
  }
  return tx.commit();
}

Status DocumentStore::touch_document(int64_t id, int64_t mtime_ns) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("UPDATE documents SET mtime_ns = ? WHERE id = ?"));
  return s.bind(1, mtime_ns).bind(2, id).run();
}

Status DocumentStore::remove_document(const std::string& doc_path) {
  KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("DELETE FROM documents WHERE path = ?"));
  KEEL_RETURN_IF_ERROR(s.bind(1, doc_path).run());
  return tx.commit();
}

Result<StoredChunk> DocumentStore::chunk(int64_t id) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
      "SELECT id, doc_id, ordinal, start, end, page, sha256, text FROM chunks WHERE id = ?"));
  s.bind(1, id);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return Status::not_found(fmt::format("{}: no chunk {}", path(), id));
  StoredChunk c;
  c.id = s.column_int(0);
  c.doc_id = s.column_int(1);
  c.ordinal = static_cast<int>(s.column_int(2));
  c.start = static_cast<uint64_t>(s.column_int(3));
  c.end = static_cast<uint64_t>(s.column_int(4));
  c.page = static_cast<int>(s.column_int(5));
  c.sha256 = s.column_text(6);
  c.text = s.column_text(7);
  return c;
}

Result<std::optional<StoredChunk>> DocumentStore::next_chunk(const StoredChunk& chunk) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT id FROM chunks WHERE doc_id = ? AND ordinal = ?"));
  s.bind(1, chunk.doc_id);
  s.bind(2, static_cast<int64_t>(chunk.ordinal) + 1);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<StoredChunk>();
  KEEL_ASSIGN_OR_RETURN(StoredChunk next, this->chunk(s.column_int(0)));
  return std::optional<StoredChunk>(std::move(next));
}

std::vector<std::string> DocumentStore::query_terms(const std::string& text) {
  static const std::set<std::string> kStopwords = {
      "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
      "i", "if", "in", "is", "it", "its", "of", "on", "or", "should", "that", "the", "their",
      "there", "this", "to", "was", "what", "when", "where", "which", "who", "why", "will",
      "with", "you", "your", "my", "me", "we", "our", "about", "into", "than", "then", "so"};
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::string word;
  auto flush = [&] {
    if (word.size() >= 2 && !kStopwords.count(word) && seen.insert(word).second) out.push_back(word);
    word.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80 || c == '_') {
      word += static_cast<char>(std::tolower(c));
    } else {
      flush();
    }
  }
  flush();
  return out;
}

std::string DocumentStore::fts_query(const std::string& text) {
  std::string out;
  for (const auto& term : query_terms(text)) {
    if (!out.empty()) out += " OR ";
    out += '"' + term + '"';
  }
  return out;
}

Result<bool> DocumentStore::document_mentions(int64_t doc_id, const std::string& term) {
  std::string fts = fts_query(term);
  if (fts.empty()) return false;
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
      "SELECT 1 FROM chunks_fts JOIN chunks ON chunks.id = chunks_fts.rowid "
      "WHERE chunks_fts MATCH ? AND chunks.doc_id = ? LIMIT 1"));
  s.bind(1, fts);
  s.bind(2, doc_id);
  return s.step();
}

Result<std::vector<int64_t>> DocumentStore::term_chunk_counts(const std::vector<std::string>& terms) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT doc FROM chunks_vocab WHERE term = ?"));
  // The full-text tokenizer splits "q8_0" into "q8" and "0": such a term is counted as a phrase.
  KEEL_ASSIGN_OR_RETURN(Statement phrase, db_->prepare("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"));
  std::vector<int64_t> out;
  for (const auto& t : terms) {
    if (t.find('_') != std::string::npos) {
      phrase.bind(1, fts_query(t));
      KEEL_ASSIGN_OR_RETURN(bool row, phrase.step());
      out.push_back(row ? phrase.column_int(0) : 0);
      phrase.reset();
      continue;
    }
    s.bind(1, t);
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    out.push_back(row ? s.column_int(0) : 0);
    s.reset();
  }
  return out;
}

Result<std::vector<std::pair<int64_t, double>>> DocumentStore::search_bm25(const std::string& query, int limit) {
  std::vector<std::pair<int64_t, double>> out;
  std::string fts = fts_query(query);
  if (fts.empty()) return out;
  // FTS5's bm25() is lower-is-better (negative); flip it so higher is better.
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
      "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
      "ORDER BY bm25(chunks_fts) LIMIT ?"));
  s.bind(1, fts).bind(2, static_cast<int64_t>(limit));
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out.emplace_back(s.column_int(0), s.column_double(1));
  }
  return out;
}

Status DocumentStore::for_each_vector(const std::function<Status(int64_t, std::span<const float>)>& visit) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT chunk_id, vector FROM vectors ORDER BY chunk_id"));
  std::vector<float> v;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    std::vector<uint8_t> bytes = s.column_blob(1);
    v.resize(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    KEEL_RETURN_IF_ERROR(visit(s.column_int(0), v));
  }
  return Status();
}

Status DocumentStore::seal() {
  KEEL_RETURN_IF_ERROR(db_->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  return db_->exec("PRAGMA journal_mode=DELETE");
}

Result<int64_t> DocumentStore::count_chunks() {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare("SELECT count(*) FROM chunks"));
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.column_int(0) : 0;
}

std::string default_store_path(const std::string& deployment_name) {
  std::string base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = std::string(home) + "/.cache";
  } else {
    base = "/tmp";
  }
  std::string dir = base + "/keel/" + deployment_name;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  return dir + "/store.db";
}

}  // namespace keel::context
