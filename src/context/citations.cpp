#include "context/citations.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

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

CitationCheck check_citations(const std::vector<int>& sources, const std::vector<RetrievedChunk>& retrieved,
                              const std::string& docs_root) {
  CitationCheck check;
  std::map<std::string, Result<ExtractedText>> texts;  // each document read once per answer
  for (int n : sources) {
    if (n < 1 || n > static_cast<int>(retrieved.size())) {
      check.rejected.push_back({n, fmt::format("source [{}] was not among the {} retrieved for this question", n,
                                               retrieved.size())});
      continue;
    }
    const RetrievedChunk& r = retrieved[n - 1];
    auto it = texts.find(r.document.path);
    if (it == texts.end()) it = texts.emplace(r.document.path, extract_file(docs_root + "/" + r.document.path)).first;
    if (!it->second.ok()) {
      check.rejected.push_back({n, fmt::format("{} cannot be read now: {}", r.document.path, it->second.status().message())});
      continue;
    }
    const std::string& text = it->second->text;
    if (r.chunk.end > text.size() || r.chunk.start > r.chunk.end) {
      check.rejected.push_back({n, fmt::format("{} is shorter than when it was indexed", r.document.path)});
      continue;
    }
    std::string quote = text.substr(r.chunk.start, r.chunk.end - r.chunk.start);
    if (sha256_hex(quote) != r.chunk.sha256) {
      check.rejected.push_back({n, fmt::format("{} changed since it was indexed (hash mismatch at bytes {}-{})",
                                               r.document.path, r.chunk.start, r.chunk.end)});
      continue;
    }
    check.valid.push_back({n, r.document.path, chunk_uri(r.document.path, r.chunk.start, r.chunk.end, r.chunk.sha256),
                           r.chunk.start, r.chunk.end, r.chunk.page, r.chunk.sha256, std::move(quote)});
  }
  return check;
}

}  // namespace keel::context
