#include "context/citations.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "context/contained_path.h"
#include "core/hash.h"

namespace keel::context {

std::vector<int> cited_sources(const std::string& answer) {
  std::vector<int> out;
  for (size_t i = 0; i < answer.size(); ++i) {
    if (answer[i] != '[') continue;
    size_t j = i + 1;
    std::vector<int> numbers;
    bool ok = true;
    while (j < answer.size() && answer[j] != ']') {
      if (std::isdigit(static_cast<unsigned char>(answer[j]))) {
        int n = 0;
        while (j < answer.size() && std::isdigit(static_cast<unsigned char>(answer[j])) && n < 10000) {
          n = n * 10 + (answer[j++] - '0');
        }
        numbers.push_back(n);
      } else if (answer[j] == ',' || answer[j] == ' ') {
        ++j;
      } else {
        ok = false;
        break;
      }
    }
    if (!ok || j >= answer.size() || numbers.empty()) continue;
    for (int n : numbers) {
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    }
    i = j;
  }
  return out;
}

std::string chunk_uri(const std::string& doc_path, uint64_t start, uint64_t end, const std::string& sha256) {
  return fmt::format("keel-doc:{}?range={}-{}&sha256={}", doc_path, start, end, sha256);
}

std::vector<CitedSpan> whole_chunks(const std::vector<int>& sources, const std::vector<RetrievedChunk>& retrieved) {
  std::vector<CitedSpan> spans;
  for (int n : sources) {
    if (n >= 1 && n <= static_cast<int>(retrieved.size())) {
      const StoredChunk& c = retrieved[n - 1].chunk;
      spans.push_back({n, c.start, c.end});
    } else {
      spans.push_back({n, 0, 0});
    }
  }
  return spans;
}

CitationCheck check_citations(const std::vector<CitedSpan>& spans, const std::vector<RetrievedChunk>& retrieved,
                              const std::string& docs_root) {
  CitationCheck check;
  std::map<std::string, Result<ExtractedText>> texts;  // each document read once per answer
  for (const CitedSpan& span : spans) {
    const int n = span.source;
    if (n < 1 || n > static_cast<int>(retrieved.size())) {
      check.rejected.push_back({n, fmt::format("source [{}] was not among the {} retrieved for this question", n,
                                               retrieved.size())});
      continue;
    }
    const RetrievedChunk& r = retrieved[n - 1];
    if (span.start < r.chunk.start || span.end > r.chunk.end || span.start >= span.end) {
      check.rejected.push_back({n, fmt::format("bytes {}-{} are not inside source [{}] ({} bytes {}-{})", span.start,
                                               span.end, n, r.document.path, r.chunk.start, r.chunk.end)});
      continue;
    }
    auto it = texts.find(r.document.path);
    if (it == texts.end()) {
      auto inside = resolve_inside(docs_root, r.document.path);
      it = texts.emplace(r.document.path, inside.ok() ? extract_file(*inside) : Result<ExtractedText>(inside.status()))
               .first;
    }
    if (!it->second.ok()) {
      check.rejected.push_back({n, fmt::format("{} cannot be read now: {}", r.document.path, it->second.status().message())});
      continue;
    }
    const std::string& text = it->second->text;
    if (r.chunk.end > text.size() || r.chunk.start > r.chunk.end) {
      check.rejected.push_back({n, fmt::format("{} is shorter than when it was indexed", r.document.path)});
      continue;
    }
    if (sha256_hex(std::string_view(text).substr(r.chunk.start, r.chunk.end - r.chunk.start)) != r.chunk.sha256) {
      check.rejected.push_back({n, fmt::format("{} changed since it was indexed (hash mismatch at bytes {}-{})",
                                               r.document.path, r.chunk.start, r.chunk.end)});
      continue;
    }
    std::string quote = text.substr(span.start, span.end - span.start);
    std::string sha = sha256_hex(quote);
    check.valid.push_back({n, r.document.path, chunk_uri(r.document.path, span.start, span.end, sha), span.start,
                           span.end, r.chunk.page, sha, std::move(quote)});
  }
  return check;
}

}  // namespace keel::context
