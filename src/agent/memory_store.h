// Agent memory: notes a case writes on purpose, kept in a durable store (a SQLite component
// the spec names in authority.memory.store), never implicitly. Exposed to workflows as two
// tools: write_memory_note (a write with an idempotency key, deduplicated by the store, with
// an outcome check) and read_memory_notes (read).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/tool.h"
#include "core/result.h"

namespace keel {
class Database;
}

namespace keel::agent {

class MemoryStore {
 public:
  [[nodiscard]] static Result<std::shared_ptr<MemoryStore>> open(const std::string& path);
  ~MemoryStore();

  struct Note {
    int64_t id = 0;
    std::string subject;  //!< what the note is about, e.g. a customer id
    std::string text;
    std::string case_id;
    std::string idempotency_key;
    int64_t created_ns = 0;
  };
  //! Stores a note once per idempotency key; a repeat returns the first note.
  [[nodiscard]] Result<Note> write(const Note& note);
  [[nodiscard]] Result<std::optional<Note>> find_by_key(const std::string& idempotency_key);
  [[nodiscard]] Result<std::vector<Note>> read(const std::string& subject, int limit = 20);

  //! The two memory tools, bound to this store.
  std::vector<std::shared_ptr<Tool>> tools();

 private:
  MemoryStore() = default;
  std::unique_ptr<Database> db_;
};

}  // namespace keel::agent
