#include "assistant/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "context/extract.h"
#include "core/json.h"
#include "core/statistics.h"

namespace keel::assistant {

Result<std::pair<uint64_t, uint64_t>> find_quote(std::string_view text, std::string_view quote) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  // Both sides with runs of white space folded to one space; `at` maps the folded text back.
  auto fold = [&](std::string_view in, std::vector<uint64_t>* at) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (space(in[i])) {
        if (!out.empty() && out.back() == ' ') continue;
        out += ' ';
      } else {
        out += in[i];
      }
      if (at) at->push_back(i);
    }
    return out;
  };
  std::vector<uint64_t> at;
  std::string folded = fold(text, &at);
  std::string needle = fold(quote, nullptr);
  while (!needle.empty() && needle.front() == ' ') needle.erase(0, 1);
  while (!needle.empty() && needle.back() == ' ') needle.pop_back();
  if (needle.empty()) return Status::invalid_argument("the quote is empty");
  size_t first = folded.find(needle);
  if (first == std::string::npos) return Status::not_found("the quote does not occur in the document");
  if (folded.find(needle, first + 1) != std::string::npos) {
    return Status::invalid_argument("the quote occurs more than once in the document; quote more of it");
  }
  return std::make_pair(at[first], at[first + needle.size() - 1] + 1);
}

Result<std::vector<EvalQuestion>> load_questions(const std::string& path, const std::string& docs_dir) {
  std::ifstream in(path);
  if (!in) return Status::not_found(fmt::format("question set {} not found", path));
  std::stringstream text;
  text << in.rdbuf();
  KEEL_ASSIGN_OR_RETURN(Json j, parse_json(text.str()));
  if (!j.is_array()) return Status::invalid_argument(fmt::format("{}: expected a JSON array of questions", path));
  std::vector<EvalQuestion> out;
  std::map<std::string, std::string> texts;  // extracted text per document, read once
  for (size_t i = 0; i < j.size(); ++i) {
    EvalQuestion q;
    try {
      q.id = j[i].at("id").get<std::string>();
      q.question = j[i].at("question").get<std::string>();
      q.answerable = j[i].at("answerable").get<bool>();
      q.expected_docs = j[i].value("expected_docs", std::vector<std::string>{});
      q.answer_keywords = j[i].value("answer_keywords", std::vector<std::string>{});
      for (const auto& g : j[i].value("gold", Json::array())) {
        q.gold.push_back({g.at("doc").get<std::string>(), g.at("quote").get<std::string>()});
      }
    } catch (const std::exception& e) {
      return Status::invalid_argument(fmt::format("{}: question #{}: {}", path, i, e.what()));
    }
    if (q.answerable && q.expected_docs.empty()) {
      return Status::invalid_argument(fmt::format("{}: question {} is answerable but names no document", path, q.id));
    }
    if (q.answerable && q.gold.empty()) {
      return Status::invalid_argument(fmt::format("{}: question {} is answerable but has no gold span", path, q.id));
    }
    for (auto& g : q.gold) {
      auto it = texts.find(g.doc);
      if (it == texts.end()) {
        auto extracted = context::extract_file(docs_dir + "/" + g.doc);
        if (!extracted.ok()) {
          return Status::invalid_argument(fmt::format("{}: question {}: gold document {}: {}", path, q.id, g.doc,
                                                      extracted.status().message()));
        }
        it = texts.emplace(g.doc, std::move(extracted->text)).first;
      }
      auto range = find_quote(it->second, g.quote);
      if (!range.ok()) {
        return Status::invalid_argument(fmt::format("{}: question {}: gold span in {}: {}: \"{}\"", path, q.id, g.doc,
                                                    range.status().message(), g.quote));
      }
      std::tie(g.start, g.end) = *range;
    }
    out.push_back(std::move(q));
  }
  return out;
}

namespace {

bool any_expected(const std::vector<context::RetrievedChunk>& retrieved, const std::vector<std::string>& expected) {
  for (const auto& r : retrieved) {
    if (std::find(expected.begin(), expected.end(), r.document.path) != expected.end()) return true;
  }
  return false;
}

bool contains_keyword(const std::string& text, const std::vector<std::string>& keywords) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (auto k : keywords) {
    std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower.find(k) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Result<EvalReport> evaluate(ResearchAssistant& assistant, const std::vector<EvalQuestion>& questions, int k,
                            const std::function<void(const EvalRow&, size_t, size_t)>& progress) {
  EvalReport r;
  r.k = k;
  r.answer_mode = assistant.answer_mode() == AnswerMode::extract ? "extract" : "generate";
  r.hybrid_available = assistant.has_vectors();
  int bm25_hits = 0, hybrid_hits = 0, kept = 0, emitted = 0, shown = 0, grounded = 0, correct = 0;
  int declined_unanswerable = 0, declined_answerable = 0, answered_correctly = 0, answered = 0, keyword_hits = 0;
  std::vector<double> latencies;
  std::map<std::string, std::optional<std::string>> documents;  // re-read here, not by the checker
  auto document_text = [&](const std::string& doc) -> const std::optional<std::string>& {
    auto it = documents.find(doc);
    if (it == documents.end()) {
      auto extracted = context::extract_file(assistant.docs_dir() + "/" + doc);
      it = documents.emplace(doc, extracted.ok() ? std::optional<std::string>(std::move(extracted->text))
                                                 : std::nullopt).first;
    }
    return it->second;
  };
  for (size_t i = 0; i < questions.size(); ++i) {
    const EvalQuestion& q = questions[i];
    EvalRow row;
    row.id = q.id;
    row.answerable = q.answerable;
    KEEL_ASSIGN_OR_RETURN(auto bm25, assistant.retrieve(q.question, context::RetrievalMode::bm25, k));
    KEEL_ASSIGN_OR_RETURN(auto hybrid, assistant.retrieve(q.question, context::RetrievalMode::hybrid, k));
    KEEL_ASSIGN_OR_RETURN(Answer answer, assistant.ask(q.question));
    row.bm25_hit = any_expected(bm25, q.expected_docs);
    row.hybrid_hit = any_expected(hybrid, q.expected_docs);
    row.declined = answer.declined;
    row.extracted = answer.extracted;
    row.citations_emitted = answer.metrics.citations_emitted;
    row.support = answer.metrics.support;
    row.total_ms = answer.metrics.total_ms;
    row.answer = answer.text;
    row.keywords_found = !answer.declined && contains_keyword(answer.text, q.answer_keywords);
    for (const auto& c : answer.citations) {
      ++row.citations_shown;
      const auto& text = document_text(c.doc);
      bool is_grounded = text && c.end <= text->size() && c.start < c.end &&
                         std::string_view(*text).substr(c.start, c.end - c.start) == c.quote;
      row.citations_grounded += is_grounded;
      bool in_gold = std::any_of(q.gold.begin(), q.gold.end(), [&](const GoldSpan& g) {
        return g.doc == c.doc && c.start < g.end && g.start < c.end;
      });
      row.citations_correct += is_grounded && in_gold;
    }
    // A correct citation under a wrong sentence is not an answer: the text must also state one of
    // the question's answer keywords.
    row.answered_correctly = q.answerable && !answer.declined && row.citations_correct > 0 &&
                             (q.answer_keywords.empty() || row.keywords_found);
    kept += static_cast<int>(answer.citations.size());
    emitted += row.citations_emitted;
    shown += row.citations_shown;
    grounded += row.citations_grounded;
    correct += row.citations_correct;
    latencies.push_back(row.total_ms);
    if (q.answerable) {
      ++r.answerable;
      bm25_hits += row.bm25_hit;
      hybrid_hits += row.hybrid_hit;
      declined_answerable += row.declined;
      answered_correctly += row.answered_correctly;
      if (!row.declined) {
        ++answered;
        keyword_hits += row.keywords_found;
      }
    } else {
      ++r.unanswerable;
      declined_unanswerable += row.declined;
    }
    if (progress) progress(row, i + 1, questions.size());
    r.rows.push_back(std::move(row));
  }
  auto ratio = [](int a, int b) { return b ? static_cast<double>(a) / b : 0.0; };
  r.recall_bm25 = ratio(bm25_hits, r.answerable);
  r.recall_hybrid = ratio(hybrid_hits, r.answerable);
  r.answered_correctly = ratio(answered_correctly, r.answerable);
  r.answerable_declined = ratio(declined_answerable, r.answerable);
  r.unanswerable_declined = ratio(declined_unanswerable, r.unanswerable);
  r.citations_emitted = emitted;
  r.citations_shown = shown;
  r.citation_validity = emitted ? ratio(kept, emitted) : 1.0;
  r.citation_grounded = shown ? ratio(grounded, shown) : 1.0;
  r.citation_correct = shown ? ratio(correct, shown) : 1.0;
  r.keyword_hit_rate = ratio(keyword_hits, answered);
  r.latency_p50_ms = percentile(latencies, 0.5);
  r.latency_p95_ms = percentile(latencies, 0.95);
  return r;
}

}  // namespace keel::assistant
