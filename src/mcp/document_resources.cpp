#include "mcp/document_resources.h"

#include <fmt/format.h>

#include <filesystem>

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
    case context::DocumentKind::markdown: return "text/markdown";
    default: return "text/plain";
  }
}

std::string uri_of(const context::StoredDocument& d) { return fmt::format("{}{}?sha256={}", kScheme, d.path, d.sha256); }

}  // namespace

Result<std::shared_ptr<DocumentResources>> DocumentResources::open(const std::string& store_path, const std::string& docs_dir) {
  auto r = std::shared_ptr<DocumentResources>(new DocumentResources());
  KEEL_ASSIGN_OR_RETURN(r->store_, context::DocumentStore::open(store_path, true));
  r->docs_dir_ = docs_dir;
  return r;
}

Result<std::vector<Json>> DocumentResources::list() {
  KEEL_ASSIGN_OR_RETURN(auto docs, store_->documents());
  std::vector<Json> out;
  for (const auto& d : docs) {
    out.push_back({{"uri", uri_of(d)},
                   {"name", d.path},
                   {"title", d.title.empty() ? d.path : d.title},
                   {"description", fmt::format("{} document, {} bytes{}", context::document_kind_name(d.kind), d.size,
                                               d.pages ? fmt::format(", {} pages", d.pages) : "")},
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
    if (kv.rfind("sha256=", 0) == 0) hash = kv.substr(7);
    else if (kv.rfind("range=", 0) == 0) range = kv.substr(6);
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  KEEL_ASSIGN_OR_RETURN(auto doc, store_->document(path));
  if (!doc || hash.size() != 64) return not_found();
  std::string file = (std::filesystem::path(docs_dir_) / path).string();
  if (range.empty()) {
    if (doc->sha256 != hash) return not_found();
    auto digest = sha256_file(file);
    if (!digest.ok() || to_hex(*digest) != hash) {
      return not_found(" (the file changed or is gone since it was indexed; run `keel index` again)");
    }
  }
  KEEL_ASSIGN_OR_RETURN(auto text, context::extract_file(file));
  if (range.empty()) {
    return Json{{"contents", Json::array({{{"uri", uri}, {"mimeType", mime_of(doc->kind)}, {"text", text.text}}})}};
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
  if (start >= end || end > text.text.size()) return not_found(" (the range is outside the document)");
  std::string passage = text.text.substr(start, end - start);
  if (sha256_hex(passage) != hash) return not_found(" (the passage changed since it was cited)");
  return Json{{"contents", Json::array({{{"uri", uri}, {"mimeType", "text/plain"}, {"text", passage}}})}};
}

std::vector<Json> DocumentResources::prompts() {
  return {{{"name", "ask_with_sources"},
           {"title", "Ask the documents"},
           {"description", "Retrieves passages for a question and asks for an answer that cites them as [n]."},
           {"arguments", Json::array({{{"name", "question"}, {"description", "the question"}, {"required", true}},
                                      {{"name", "k"}, {"description", "passages to retrieve (1-10, default 4)"}, {"required", false}}})}}};
}

Result<Json> DocumentResources::prompt(const std::string& name, const Json& arguments) {
  if (name != "ask_with_sources") return Status::not_found(fmt::format("Unknown prompt: {}", name));
  if (!arguments.contains("question") || !arguments["question"].is_string() || arguments["question"].get<std::string>().empty()) {
    return Status::invalid_argument("ask_with_sources needs a \"question\"");
  }
  int k = 4;
  if (arguments.contains("k")) {
    const Json& v = arguments["k"];
    std::string text = v.is_string() ? v.get<std::string>() : v.is_number_integer() ? std::to_string(v.get<int>()) : "";
    k = std::atoi(text.c_str());
    if (k < 1 || k > 10) return Status::invalid_argument("k must be 1 to 10");
  }
  const std::string question = arguments["question"].get<std::string>();
  context::Retriever retriever(*store_, nullptr, nullptr);
  context::RetrievalOptions o;
  o.k = k;
  o.mode = context::RetrievalMode::bm25;
  KEEL_ASSIGN_OR_RETURN(auto passages, retriever.retrieve(question, o));
  std::string sources;
  Json messages = Json::array();
  for (size_t i = 0; i < passages.size(); ++i) {
    const auto& p = passages[i];
    sources += fmt::format("[{}] {} ({})\n{}\n\n", i + 1, p.document.title.empty() ? p.document.path : p.document.title,
                           context::chunk_uri(p.document.path, p.chunk.start, p.chunk.end, p.chunk.sha256), p.chunk.text);
  }
  std::string text = passages.empty()
                         ? fmt::format("No passage in the documents matches this question. Say that the documents do not answer "
                                       "it.\n\nQuestion: {}",
                                       question)
                         : fmt::format("Answer the question from these sources only, and cite each claim as [n]. If they do not "
                                       "answer it, say so.\n\n{}Question: {}",
                                       sources, question);
  messages.push_back({{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}});
  return Json{{"description", fmt::format("{} passage(s) for: {}", passages.size(), question)}, {"messages", messages}};
}

}  // namespace keel::mcp
