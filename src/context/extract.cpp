#include "context/extract.h"

#include <fmt/format.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/utf8.h"

namespace keel::context {

std::string_view document_kind_name(DocumentKind kind) {
  switch (kind) {
    case DocumentKind::text: return "text";
    case DocumentKind::markdown: return "markdown";
    case DocumentKind::html: return "html";
    case DocumentKind::pdf: return "pdf";
  }
  return "?";
}

std::optional<DocumentKind> kind_from_path(std::string_view path) {
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos || path.find('/', dot) != std::string_view::npos) return std::nullopt;
  std::string ext(path.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == "txt" || ext == "text") return DocumentKind::text;
  if (ext == "md" || ext == "markdown") return DocumentKind::markdown;
  if (ext == "html" || ext == "htm" || ext == "xhtml") return DocumentKind::html;
  if (ext == "pdf") return DocumentKind::pdf;
  return std::nullopt;
}

int ExtractedText::page_at(uint64_t offset) const {
  for (const auto& p : pages) {
    if (offset >= p.start && offset < p.end) return p.page;
  }
  return pages.empty() ? 0 : pages.back().page;
}

namespace {

Result<ExtractedText> extract_plain(DocumentKind kind, std::string_view bytes, std::string_view name) {
  if (bytes.find('\0') != std::string_view::npos) {
    return Status::invalid_argument(fmt::format("{}: binary data (NUL bytes) in a text file", name));
  }
  if (auto bad = first_invalid_utf8(bytes)) {
    return Status::invalid_argument(fmt::format("{}: not valid UTF-8 at byte {}", name, *bad));
  }
  ExtractedText out;
  out.kind = kind;
  out.text.assign(bytes);
  if (kind == DocumentKind::markdown) {
    // The first heading names the document.
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t end = bytes.find('\n', pos);
      std::string_view line = bytes.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      if (line.rfind("# ", 0) == 0) {
        out.title = std::string(line.substr(2));
        break;
      }
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
  }
  return out;
}

bool is_block(const char* tag) {
  static constexpr const char* kBlocks[] = {
      "p",  "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr",
      "td", "th", "section", "article", "header", "footer", "nav", "aside", "blockquote",
      "pre", "hr", "dl", "dt", "dd", "figure", "figcaption", "main", "title", "body"};
  for (const char* b : kBlocks) {
    if (std::strcmp(tag, b) == 0) return true;
  }
  return false;
}

bool is_hidden(const char* tag) {
  return std::strcmp(tag, "script") == 0 || std::strcmp(tag, "style") == 0 ||
         std::strcmp(tag, "template") == 0 || std::strcmp(tag, "noscript") == 0 ||
         std::strcmp(tag, "head") == 0;
}

// Appends visible text with collapsed whitespace; blocks end with a blank line.
class HtmlTextWriter {
 public:
  void text(const char* s) {
    for (const char* p = s; *p; ++p) {
      unsigned char c = static_cast<unsigned char>(*p);
      bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
      if (space) {
        pending_space_ = !out_.empty() && out_.back() != '\n';
      } else {
        if (pending_space_) out_ += ' ';
        pending_space_ = false;
        out_ += static_cast<char>(c);
      }
    }
  }
  void block_break() {
    pending_space_ = false;
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    if (out_.empty()) return;
    if (out_.back() != '\n') out_ += '\n';
    if (out_.size() < 2 || out_[out_.size() - 2] != '\n') out_ += '\n';
  }
  std::string finish() {
    while (!out_.empty() && (out_.back() == '\n' || out_.back() == ' ')) out_.pop_back();
    if (!out_.empty()) out_ += '\n';
    return std::move(out_);
  }

 private:
  std::string out_;
  bool pending_space_ = false;
};

void walk_html(xmlNode* node, HtmlTextWriter& w, std::string* title, int depth) {
  if (depth > 512) return;  // pathological nesting: stop descending, keep what we have
  for (xmlNode* n = node; n; n = n->next) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
      if (n->content) w.text(reinterpret_cast<const char*>(n->content));
      continue;
    }
    if (n->type != XML_ELEMENT_NODE || !n->name) continue;
    const char* tag = reinterpret_cast<const char*>(n->name);
    if (std::strcmp(tag, "title") == 0 && title->empty()) {
      xmlChar* t = xmlNodeGetContent(n);
      if (t) {
        HtmlTextWriter tw;
        tw.text(reinterpret_cast<const char*>(t));
        *title = tw.finish();
        if (!title->empty() && title->back() == '\n') title->pop_back();
        xmlFree(t);
      }
      continue;
    }
    if (is_hidden(tag)) continue;
    bool block = is_block(tag);
    if (block) w.block_break();
    walk_html(n->children, w, title, depth + 1);
    if (block) w.block_break();
  }
}

void silent_xml_error(void*, const char*, ...) {}
void silent_poppler_error(const std::string&, void*) {}

// Parser libraries print diagnostics to stderr by default; the report says what matters.
void quiet_parsers() {
  static const bool done = [] {
    xmlInitParser();
    xmlSetGenericErrorFunc(nullptr, silent_xml_error);
    poppler::set_debug_error_function(silent_poppler_error, nullptr);
    return true;
  }();
  (void)done;
}

Result<ExtractedText> extract_html(std::string_view bytes, std::string_view name) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
    return Status::invalid_argument(fmt::format("{}: too large for the HTML parser", name));
  }
  htmlDocPtr doc = htmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), nullptr, "UTF-8",
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_NOBLANKS);
  if (!doc) return Status::invalid_argument(fmt::format("{}: cannot parse the HTML", name));
  std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> guard(doc, xmlFreeDoc);
  ExtractedText out;
  out.kind = DocumentKind::html;
  HtmlTextWriter w;
  xmlNode* root = xmlDocGetRootElement(doc);
  // The title lives in <head>, which is otherwise skipped.
  for (xmlNode* n = root ? root->children : nullptr; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && n->name && std::strcmp(reinterpret_cast<const char*>(n->name), "head") == 0) {
      for (xmlNode* h = n->children; h; h = h->next) {
        if (h->type == XML_ELEMENT_NODE && h->name &&
            std::strcmp(reinterpret_cast<const char*>(h->name), "title") == 0) {
          HtmlTextWriter dummy;
          walk_html(h, dummy, &out.title, 0);
        }
      }
    }
  }
  walk_html(root, w, &out.title, 0);
  out.text = repair_utf8(w.finish());
  return out;
}

Result<ExtractedText> extract_pdf(std::string_view bytes, std::string_view name) {
  if (bytes.size() < 5 || bytes.substr(0, 5) != "%PDF-") {
    return Status::invalid_argument(fmt::format("{}: not a PDF file", name));
  }
  std::vector<char> data(bytes.begin(), bytes.end());
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
  if (!doc) return Status::invalid_argument(fmt::format("{}: cannot read the PDF (damaged?)", name));
  if (doc->is_locked()) {
    return Status::permission_denied(fmt::format("{}: the PDF is encrypted", name));
  }
  ExtractedText out;
  out.kind = DocumentKind::pdf;
  poppler::ustring title = doc->info_key("Title");
  if (!title.empty()) {
    auto utf8 = title.to_utf8();
    out.title = repair_utf8(std::string_view(utf8.data(), utf8.size()));
  }
  const int n = doc->pages();
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) continue;
    auto utf8 = page->text().to_utf8();
    std::string text = repair_utf8(std::string_view(utf8.data(), utf8.size()));
    // Form feeds and trailing blanks between pages become one blank line.
    for (char& c : text) {
      if (c == '\f') c = '\n';
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.empty()) continue;
    if (!out.text.empty()) out.text += "\n\n";
    PageRange range{out.text.size(), 0, i + 1};
    out.text += text;
    range.end = out.text.size();
    out.pages.push_back(range);
  }
  if (!out.text.empty()) out.text += '\n';
  if (!out.pages.empty()) out.pages.back().end = out.text.size();
  return out;
}

}  // namespace

Result<ExtractedText> extract_text(DocumentKind kind, std::string_view bytes, std::string_view name) {
  quiet_parsers();
  Result<ExtractedText> result = Status::internal("unreachable");
  switch (kind) {
    case DocumentKind::text:
    case DocumentKind::markdown: result = extract_plain(kind, bytes, name); break;
    case DocumentKind::html: result = extract_html(bytes, name); break;
    case DocumentKind::pdf: result = extract_pdf(bytes, name); break;
  }
  if (result.ok() && result->text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::invalid_argument(fmt::format("{}: no text to index", name));
  }
  return result;
}

Result<ExtractedText> extract_file(const std::string& path, uint64_t max_bytes) {
  auto kind = kind_from_path(path);
  if (!kind) return Status::unimplemented(fmt::format("{}: not a text, Markdown, HTML or PDF file", path));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    std::string message = fmt::format("{}: {}", path, std::strerror(err));
    if (err == ENOENT) return Status::not_found(message);
    if (err == EACCES) return Status::permission_denied(message);
    if (err == ELOOP) return Status::invalid_argument(message);
    return Status::unavailable(message);
  }
  if (!S_ISREG(st.st_mode)) return Status::invalid_argument(fmt::format("{}: not a regular file", path));
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::resource_exhausted(fmt::format("{}: {} bytes is over the {} byte limit", path,
                                                  st.st_size, max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string message = fmt::format("{}: {}", path, std::strerror(err));
    return err == EACCES ? Status::permission_denied(message) : Status::unavailable(message);
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<size_t>(in.gcount()) != bytes.size()) {
    return Status::data_loss(fmt::format("{}: read {} of {} bytes", path, in.gcount(), bytes.size()));
  }
  return extract_text(*kind, bytes, path);
}

}  // namespace keel::context
