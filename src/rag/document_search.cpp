#include "rag/document_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "assistant/extractive_answer.h"
#include "context/chunker.h"
#include "core/hash.h"

namespace keel::rag {
namespace {

Json decision(std::string rule, std::string verdict, std::string detail) {
  return {{"rule", std::move(rule)}, {"decision", std::move(verdict)}, {"detail", std::move(detail)}};
}

// Words that carry no subject: they would make every passage look relevant.
const std::set<std::string> kStopStems = {
    "the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "is", "are", "wa", "be", "by", "with",
    "what", "which", "who", "how", "when", "where", "do", "doe", "our", "my", "we", "i", "it", "that",
    "thi", "can", "may", "must", "there", "their", "any", "from", "at", "about", "tell", "me", "us"};

struct Readable {
  const semantic::WarehouseDocument* source;
  std::string text;  //!< after masking
  std::string sha256;
};

}  // namespace

DocumentAnswer answer_from_documents(std::string_view question,
                                     const std::vector<semantic::WarehouseDocument>& documents,
                                     const context::Reader& reader,
                                     const std::vector<std::string>& masked_fields,
                                     const DocumentSearchOptions& options) {
  DocumentAnswer out;
  std::vector<Readable> readable;
  std::set<std::string> masked_any;
  for (const auto& d : documents) {
    if (options.enforce_policy) {
      context::AccessDecision a = check_access({d.tenant, d.roles}, reader);
      if (!a.allowed) {
        ++out.documents_denied;
        out.decisions.push_back(decision(a.rule, "deny", fmt::format("document {}: {}", d.id, a.detail)));
        continue;
      }
    }
    context::MaskedText masked =
        context::mask_fields(d.body, options.enforce_policy ? masked_fields : std::vector<std::string>{});
    for (const auto& f : masked.masked) masked_any.insert(f);
    readable.push_back({&d, std::move(masked.text), ""});
    readable.back().sha256 = sha256_hex(readable.back().text);
  }
  out.documents_readable = static_cast<int>(readable.size());
  out.decisions.push_back(decision("document.acl", "applied",
                                   fmt::format("{} document(s) readable, {} denied before ranking",
                                               out.documents_readable, out.documents_denied)));
  for (const auto& f : masked_any)
    out.decisions.push_back(decision("field.mask", "applied", fmt::format("field {} masked", f)));

  // Passages of the readable documents, ranked by the weighted question terms they hold.
  std::vector<context::RetrievedChunk> passages;
  for (size_t i = 0; i < readable.size(); ++i) {
    for (const auto& range : context::chunk_text(readable[i].text)) {
      context::RetrievedChunk p;
      p.document.id = static_cast<int64_t>(i);
      p.document.path = readable[i].source->id;
      p.document.title = readable[i].source->title;
      p.document.sha256 = readable[i].sha256;
      p.chunk.doc_id = p.document.id;
      p.chunk.start = range.start;
      p.chunk.end = range.end;
      p.chunk.text = readable[i].text.substr(range.start, range.end - range.start);
      p.chunk.sha256 = sha256_hex(p.chunk.text);
      passages.push_back(std::move(p));
    }
  }
  std::vector<std::string> stems;
  for (auto& s : assistant::stems_of(question))
    if (!kStopStems.count(s) && std::find(stems.begin(), stems.end(), s) == stems.end()) stems.push_back(s);
  std::vector<std::set<std::string>> passage_stems;
  for (const auto& p : passages) {
    auto s = assistant::stems_of(p.chunk.text);
    auto t = assistant::stems_of(p.document.title);
    passage_stems.emplace_back(s.begin(), s.end());
    passage_stems.back().insert(t.begin(), t.end());
  }
  std::vector<assistant::WeightedTerm> terms;
  for (const auto& s : stems) {
    const auto df = std::count_if(passage_stems.begin(), passage_stems.end(), [&](const auto& set) { return set.count(s) > 0; });
    terms.push_back({s, std::log((static_cast<double>(passages.size()) + 1) / (static_cast<double>(df) + 0.5))});
  }
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < passages.size(); ++i) {
    double score = 0;
    for (const auto& t : terms) score += passage_stems[i].count(t.stem) ? std::max(t.weight, 0.0) : 0;
    if (score > 0) scored.emplace_back(-score, i);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<context::RetrievedChunk> ranked;
  for (size_t r = 0; r < scored.size() && static_cast<int>(r) < options.passages_ranked; ++r) {
    ranked.push_back(passages[scored[r].second]);
    ranked.back().rank = static_cast<int>(r + 1);
  }
  if (ranked.empty()) return out;
  assistant::ExtractOptions extract;
  extract.question = std::string(question);
  extract.needs_person = assistant::asks_for_person(question);
  assistant::ExtractedAnswer best = assistant::extract_answer(terms, ranked, {}, nullptr, extract);
  out.coverage = best.coverage;
  if (best.sentences.empty() || best.coverage < options.min_coverage) return out;
  out.found = true;
  out.text = assistant::format_extracted_answer(best.sentences);
  for (const auto& s : best.sentences) {
    const auto& p = ranked[static_cast<size_t>(s.source - 1)];
    const Readable& doc = readable[static_cast<size_t>(p.document.id)];
    out.evidence.push_back({{"source", s.source},
                            {"document", doc.source->id},
                            {"title", doc.source->title},
                            {"classification", doc.source->classification},
                            {"start", s.start},
                            {"end", s.end},
                            {"quote", s.text},
                            {"quote_sha256", sha256_hex(s.text)},
                            {"document_sha256", doc.sha256}});
  }
  return out;
}

}  // namespace keel::rag
