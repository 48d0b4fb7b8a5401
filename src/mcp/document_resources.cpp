#include "mcp/document_resources.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "context/citations.h"
#include "context/extract.h"
#include "context/retriever.h"
#include "core/hash.h"
#include "core/json.h"

namespace keel::mcp {
namespace {

constexpr std::string_view kScheme = "keel-doc:";

std::string mime_of(context::DocumentKind kind) {
  switch (kind) {
    case context::DocumentKind::markdown:
      return "text/markdown";
    default:
      return "text/plain";
  }
}

std::string uri_of(const context::StoredDocument& d) {
  return fmt::format("{}{}?sha256={}", kScheme, d.path, d.sha256);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads the document `rel` of the folder `root`, refusing anything outside it: the real path
// (symlinks resolved) must lie under the folder's real path. The file is then opened from the
// folder's descriptor one component at a time with O_NOFOLLOW, so a symlink swapped in after
// the check is refused, not followed. Only regular files are read (a FIFO or a device would
// block or never end; O_NONBLOCK keeps the open itself from waiting on a FIFO).
Result<std::string> read_inside(const std::string& root, const std::string& rel,
                                uint64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec)
    return Status::not_found(
        fmt::format("the documents folder {} cannot be read: {}", root, ec.message()));
  const fs::path real = fs::canonical(fs::path(root) / rel, ec);
  if (ec) return Status::not_found(fmt::format("{} cannot be read: {}", rel, ec.message()));
  auto mismatch = std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
  if (mismatch.first != real_root.end() || mismatch.second == real.end()) {
    return Status::permission_denied(fmt::format("{} leads outside the documents folder", rel));
  }
  Fd dir(::open(real_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0)
    return Status::not_found(
        fmt::format("the documents folder {} cannot be opened: {}", root, std::strerror(errno)));
  std::vector<fs::path> parts(mismatch.second, real.end());
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    Fd next(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0)
      return Status::permission_denied(
          fmt::format("{} changed while it was opened: {}", rel, std::strerror(errno)));
    dir = std::move(next);
  }
  Fd file(
      ::openat(dir.get(), parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.get() < 0)
    return Status::permission_denied(
        fmt::format("{} cannot be opened: {}", rel, std::strerror(errno)));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0)
    return Status::not_found(fmt::format("{} cannot be read: {}", rel, std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return Status::permission_denied(fmt::format("{} is not a regular file", rel));
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::invalid_argument(
        fmt::format("{} is {} bytes; the limit is {}", rel, st.st_size, max_bytes));
  }
  std::string bytes;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status::not_found(fmt::format("{} cannot be read: {}", rel, std::strerror(errno)));
    if (n == 0) break;
    if (bytes.size() + static_cast<size_t>(n) > max_bytes)
      return Status::invalid_argument(fmt::format("{} grew past {} bytes", rel, max_bytes));
    bytes.append(buffer, static_cast<size_t>(n));
  }
  return bytes;
}

}  // namespace

Result<std::shared_ptr<DocumentResources>> DocumentResources::open(const std::string& store_path,
                                                                   const std::string& docs_dir) {
  auto r = std::shared_ptr<DocumentResources>(new DocumentResources());
  KEEL_ASSIGN_OR_RETURN(r->store_, context::DocumentStore::open(store_path, true));
  r->docs_dir_ = docs_dir;
  return r;
}

Result<std::vector<Json>> DocumentResources::list() {
  std::vector<context::StoredDocument> docs;
  {
    std::lock_guard lock(store_mutex_);
    KEEL_ASSIGN_OR_RETURN(docs, store_->documents());
  }
  std::vector<Json> out;
  for (const auto& d : docs) {
    out.push_back(
        {{"uri", uri_of(d)},
         {"name", d.path},
         {"title", d.title.empty() ? d.path : d.title},
         {"description", fmt::format("{} document, {} bytes{}", context::document_kind_name(d.kind),
                                     d.size, d.pages ? fmt::format(", {} pages", d.pages) : "")},
         {"mimeType", mime_of(d.kind)},
         {"size", d.text_bytes}});
  }
  return out;
}

Result<Json> DocumentResources::read(const std::string& uri) {
  auto not_found = [&](std::string_view why = "") {
    return Status::not_found(fmt::format("Resource not found: {}{}", uri, why));
  };
  if (uri.rfind(kScheme, 0) != 0) return not_found();
  std::string rest = uri.substr(kScheme.size());
  size_t q = rest.find('?');
  if (q == std::string::npos) return not_found(" (the URI needs ?sha256=)");
  std::string path = rest.substr(0, q);
  // Query: sha256=<document hash>, or range=<start>-<end>&sha256=<hash of that passage>.
  std::string hash, range;
  std::string query = rest.substr(q + 1);
  for (size_t at = 0; at <= query.size();) {
    size_t amp = query.find('&', at);
    std::string kv = query.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
    if (kv.rfind("sha256=", 0) == 0)
      hash = kv.substr(7);
    else if (kv.rfind("range=", 0) == 0)
      range = kv.substr(6);
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  std::optional<context::StoredDocument> doc;
  {
    std::lock_guard lock(store_mutex_);
    KEEL_ASSIGN_OR_RETURN(doc, store_->document(path));
  }
  if (!doc || hash.size() != 64) return not_found();
  if (range.empty() && doc->sha256 != hash) return not_found();
  // One read of the file, inside the folder, serves both the hash check and the extraction.
  auto bytes = read_inside(docs_dir_, path, context::kDefaultMaxDocumentBytes);
  if (!bytes.ok()) return not_found(fmt::format(" ({})", bytes.status().message()));
  if (range.empty() && sha256_hex(*bytes) != hash) {
    return not_found(" (the file changed or is gone since it was indexed; run `keel index` again)");
  }
  KEEL_ASSIGN_OR_RETURN(auto text, context::extract_text(doc->kind, *bytes, path));
  if (range.empty()) {
    return Json{
        {"contents",
         Json::array({{{"uri", uri}, {"mimeType", mime_of(doc->kind)}, {"text", text.text}}})}};
  }
  // A cited passage: the same bytes of the extracted text, with the same hash.
  size_t dash = range.find('-');
  uint64_t start = 0, end = 0;
  try {
    if (dash == std::string::npos) return not_found(" (range is <start>-<end>)");
    start = std::stoull(range.substr(0, dash));
    end = std::stoull(range.substr(dash + 1));
  } catch (const std::exception&) {
    return not_found(" (range is <start>-<end>)");
  }
  if (start >= end || end > text.text.size())
    return not_found(" (the range is outside the document)");
  std::string passage = text.text.substr(start, end - start);
  if (sha256_hex(passage) != hash) return not_found(" (the passage changed since it was cited)");
  return Json{
      {"contents", Json::array({{{"uri", uri}, {"mimeType", "text/plain"}, {"text", passage}}})}};
}

std::vector<Json> DocumentResources::prompts() {
  return {
      {{"name", "ask_with_sources"},
       {"title", "Ask the documents"},
       {"description",
        "Retrieves passages for a question and asks for an answer that cites them as [n]."},
       {"arguments",
        Json::array({{{"name", "question"}, {"description", "the question"}, {"required", true}},
                     {{"name", "k"},
                      {"description", "passages to retrieve (1-10, default 4)"},
                      {"required", false}}})}}};
}

Result<Json> DocumentResources::prompt(const std::string& name, const Json& arguments) {
  if (name != "ask_with_sources") return Status::not_found(fmt::format("Unknown prompt: {}", name));
  if (!arguments.contains("question") || !arguments["question"].is_string() ||
      arguments["question"].get<std::string>().empty()) {
    return Status::invalid_argument("ask_with_sources needs a \"question\"");
  }
  int k = 4;
  if (arguments.contains("k")) {
    const Json& v = arguments["k"];
    std::string text = v.is_string()           ? v.get<std::string>()
                       : v.is_number_integer() ? std::to_string(v.get<int>())
                                               : "";
    k = std::atoi(text.c_str());
    if (k < 1 || k > 10) return Status::invalid_argument("k must be 1 to 10");
  }
  const std::string question = arguments["question"].get<std::string>();
  std::unique_lock lock(store_mutex_);
  context::Retriever retriever(*store_, nullptr, nullptr);
  context::RetrievalOptions o;
  o.k = k;
  o.mode = context::RetrievalMode::bm25;
  KEEL_ASSIGN_OR_RETURN(auto passages, retriever.retrieve(question, o));
  lock.unlock();
  std::string sources;
  Json messages = Json::array();
  for (size_t i = 0; i < passages.size(); ++i) {
    const auto& p = passages[i];
    sources +=
        fmt::format("[{}] {} ({})\n{}\n\n", i + 1,
                    p.document.title.empty() ? p.document.path : p.document.title,
                    context::chunk_uri(p.document.path, p.chunk.start, p.chunk.end, p.chunk.sha256),
                    p.chunk.text);
  }
  std::string text = passages.empty() ? fmt::format(
                                            "No passage in the documents matches this question. "
                                            "Say that the documents do not answer "
                                            "it.\n\nQuestion: {}",
                                            question)
                                      : fmt::format(
                                            "Answer the question from these sources only, and cite "
                                            "each claim as [n]. If they do not "
                                            "answer it, say so.\n\n{}Question: {}",
                                            sources, question);
  messages.push_back({{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}});
  return Json{{"description", fmt::format("{} passage(s) for: {}", passages.size(), question)},
              {"messages", messages}};
}

}  // namespace keel::mcp
