#include "agent/memory_store.h"

#include <fmt/format.h>

#include "agent/journal.h"
#include "core/json.h"
#include "core/sqlite_db.h"

namespace keel::agent {
namespace {

Json note_json(const MemoryStore::Note& n) {
  return {{"note_id", n.id}, {"subject", n.subject}, {"text", n.text}, {"case_id", n.case_id}};
}

class WriteNoteTool : public Tool {
 public:
  explicit WriteNoteTool(MemoryStore* store) : store_(store) {
    def_.name = "write_memory_note";
    def_.description = "Remember a note about a subject (for example a customer) for later cases.";
    def_.effect = contract::Effect::write;
    def_.input_schema = {{"type", "object"},
                         {"properties", {{"subject", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}},
                                         {"text", {{"type", "string"}, {"minLength", 1}, {"maxLength", 4000}}}}},
                         {"required", {"subject", "text"}},
                         {"additionalProperties", false}};
    def_.output_schema = {{"type", "object"},
                          {"properties", {{"note_id", {{"type", "integer"}}}, {"subject", {{"type", "string"}}},
                                          {"text", {{"type", "string"}}}, {"case_id", {{"type", "string"}}}}},
                          {"required", {"note_id"}}};
    def_.system = "agent-memory";
  }
  const ToolDefinition& definition() const override { return def_; }
  Result<Json> call(const Json& args, const ToolCallContext& ctx) override {
    MemoryStore::Note n;
    n.subject = args["subject"].get<std::string>();
    n.text = args["text"].get<std::string>();
    n.case_id = ctx.case_id;
    n.idempotency_key = ctx.idempotency_key;
    KEEL_ASSIGN_OR_RETURN(auto stored, store_->write(n));
    return note_json(stored);
  }
  Result<std::optional<Json>> check_outcome(const ToolCallContext& ctx) override {
    KEEL_ASSIGN_OR_RETURN(auto found, store_->find_by_key(ctx.idempotency_key));
    if (!found) return std::optional<Json>();
    return std::optional<Json>(note_json(*found));
  }

 private:
  MemoryStore* store_;
  ToolDefinition def_;
};

class ReadNotesTool : public Tool {
 public:
  explicit ReadNotesTool(MemoryStore* store) : store_(store) {
    def_.name = "read_memory_notes";
    def_.description = "Read the notes remembered about a subject, newest first.";
    def_.effect = contract::Effect::read;
    def_.input_schema = {{"type", "object"},
                         {"properties", {{"subject", {{"type", "string"}, {"minLength", 1}}}}},
                         {"required", {"subject"}},
                         {"additionalProperties", false}};
    def_.output_schema = {{"type", "object"}, {"properties", {{"notes", {{"type", "array"}}}}}, {"required", {"notes"}}};
    def_.system = "agent-memory";
  }
  const ToolDefinition& definition() const override { return def_; }
  Result<Json> call(const Json& args, const ToolCallContext&) override {
    KEEL_ASSIGN_OR_RETURN(auto notes, store_->read(args["subject"].get<std::string>()));
    Json out = Json::array();
    for (const auto& n : notes) out.push_back(note_json(n));
    return Json{{"notes", out}};
  }

 private:
  MemoryStore* store_;
  ToolDefinition def_;
};

MemoryStore::Note note_from(const Statement& s) {
  return {s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3), s.column_text(4), s.column_int(5)};
}

}  // namespace

MemoryStore::~MemoryStore() = default;

Result<std::shared_ptr<MemoryStore>> MemoryStore::open(const std::string& path) {
  SqliteOptions o;
  o.synchronous = "FULL";
  KEEL_ASSIGN_OR_RETURN(auto db, Database::open(path, o));
  KEEL_RETURN_IF_ERROR(db->exec(
      "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, text TEXT NOT NULL,"
      " case_id TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS notes_by_subject ON notes(subject, id);"));
  auto store = std::shared_ptr<MemoryStore>(new MemoryStore());
  store->db_ = std::move(db);
  return store;
}

Result<MemoryStore::Note> MemoryStore::write(const Note& note) {
  KEEL_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
  KEEL_ASSIGN_OR_RETURN(auto existing, find_by_key(note.idempotency_key));
  if (existing) return *existing;
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
      "INSERT INTO notes (subject, text, case_id, idempotency_key, created_ns) VALUES (?,?,?,?,?)"));
  Note stored = note;
  stored.created_ns = wall_now_ns();
  s.bind(1, stored.subject).bind(2, stored.text).bind(3, stored.case_id).bind(4, stored.idempotency_key).bind(5, stored.created_ns);
  KEEL_RETURN_IF_ERROR(s.run());
  stored.id = db_->last_insert_id();
  KEEL_RETURN_IF_ERROR(tx.commit());
  return stored;
}

Result<std::optional<MemoryStore::Note>> MemoryStore::find_by_key(const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
      "SELECT id, subject, text, case_id, idempotency_key, created_ns FROM notes WHERE idempotency_key = ?"));
  s.bind(1, key);
  KEEL_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<Note>();
  return std::optional<Note>(note_from(s));
}

Result<std::vector<MemoryStore::Note>> MemoryStore::read(const std::string& subject, int limit) {
  KEEL_ASSIGN_OR_RETURN(Statement s, db_->prepare(
      "SELECT id, subject, text, case_id, idempotency_key, created_ns FROM notes WHERE subject = ? ORDER BY id DESC LIMIT ?"));
  s.bind(1, subject).bind(2, static_cast<int64_t>(limit));
  std::vector<Note> out;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    out.push_back(note_from(s));
  }
  return out;
}

std::vector<std::shared_ptr<Tool>> MemoryStore::tools() {
  return {std::make_shared<WriteNoteTool>(this), std::make_shared<ReadNotesTool>(this)};
}

}  // namespace keel::agent
