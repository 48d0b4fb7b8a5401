// A local-research deployment's read-only context over MCP: its indexed documents as
// resources, and a prompt that retrieves passages for a question and asks for answers with
// citations.
//
// - Resource URIs carry the path and the content hash: keel-doc:<path>?sha256=<hex of the
//   file's bytes>. resources/read extracts the document's text again from the file and
//   refuses (resource not found) when the file no longer has that hash, so a client never
//   reads something other than what the URI names.
// - Reads stay inside the documents folder: a document whose real path (symlinks resolved)
//   leaves the folder, or that is not a regular file (a FIFO, a device, a folder), is refused
//   (resource not found, with the reason), even when its bytes have the indexed hash.
// - Markdown and plain text are returned as they are (text/markdown, text/plain); HTML and PDF
//   as their extracted visible text (text/plain), the same text citations point into.
// - The prompt "ask_with_sources" takes a question, retrieves passages (BM25) and returns the
//   messages: numbered sources with their keel-doc URIs and the instruction to cite them.
// - Thread-safe: the index is used under a mutex; files are read outside it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "context/store.h"
#include "mcp/mcp_server.h"

namespace keel::mcp {

class DocumentResources : public ResourceProvider {
 public:
  //! Opens the index read-only; `docs_dir` is the documents folder the index was built from.
  [[nodiscard]] static Result<std::shared_ptr<DocumentResources>> open(
      const std::string& store_path, const std::string& docs_dir);

  Result<std::vector<nlohmann::json>> list() override;
  Result<nlohmann::json> read(const std::string& uri) override;
  std::vector<nlohmann::json> prompts();
  [[nodiscard]] Result<nlohmann::json> prompt(const std::string& name,
                                              const nlohmann::json& arguments);

 private:
  std::mutex store_mutex_;  //!< guards store_ (one SQLite connection)
  std::unique_ptr<context::DocumentStore> store_;
  std::string docs_dir_;
};

//! The prompt side, sharing the documents' index.
class DocumentPrompts : public PromptProvider {
 public:
  explicit DocumentPrompts(std::shared_ptr<DocumentResources> docs) : docs_(std::move(docs)) {}
  std::vector<nlohmann::json> list() override { return docs_->prompts(); }
  Result<nlohmann::json> get(const std::string& name, const nlohmann::json& arguments) override {
    return docs_->prompt(name, arguments);
  }

 private:
  std::shared_ptr<DocumentResources> docs_;
};

}  // namespace keel::mcp
