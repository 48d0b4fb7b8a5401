#include "assistant/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "context/citations.h"
#include "core/hash.h"
#include "core/json.h"

namespace keel::assistant {

Result<std::vector<EvalQuestion>> load_questions(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(fmt::format("question set {} not found", path));
  std::stringstream text;
  text << in.rdbuf();
  KEEL_ASSIGN_OR_RETURN(Json j, parse_json(text.str()));
  if (!j.is_array()) return Status::invalid_argument(fmt::format("{}: expected a JSON array of questions", path));
  std::vector<EvalQuestion> out;
  for (size_t i = 0; i < j.size(); ++i) {
    try {
      EvalQuestion q;
      q.id = j[i].at("id").get<std::string>();
      q.question = j[i].at("question").get<std::string>();
      q.answerable = j[i].at("answerable").get<bool>();
      q.expected_docs = j[i].value("expected_docs", std::vector<std::string>{});
      q.answer_keywords = j[i].value("answer_keywords", std::vector<std::string>{});
      if (q.answerable && q.expected_docs.empty()) {
        return Status::invalid_argument(fmt::format("{}: question {} is answerable but names no document", path, q.id));
      }
      out.push_back(std::move(q));
    } catch (const std::exception& e) {
      return Status::invalid_argument(fmt::format("{}: question #{}: {}", path, i, e.what()));
    }
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

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

Result<EvalReport> evaluate(ResearchAssistant& assistant, const std::vector<EvalQuestion>& questions, int k,
                            const std::function<void(const EvalRow&, size_t, size_t)>& progress) {
  EvalReport r;
  r.k = k;
  r.hybrid_available = assistant.has_vectors();
  int bm25_hits = 0, hybrid_hits = 0, valid = 0, emitted = 0, presented = 0, presented_ok = 0;
  int declined_unanswerable = 0, declined_answerable = 0, cited_answers = 0, answered = 0, keyword_hits = 0;
  std::vector<double> latencies;
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
    row.citations_valid = static_cast<int>(answer.citations.size());
    row.citations_emitted = answer.metrics.citations_emitted;
    row.support = answer.metrics.support;
    row.total_ms = answer.metrics.total_ms;
    row.answer = answer.text;
    row.keywords_found = !answer.declined && contains_keyword(answer.text, q.answer_keywords);
    // Every citation shown to the user is checked again, independently: its quote must hash to
    // the recorded value and be the text of the document at that range.
    for (const auto& c : answer.citations) {
      ++presented;
      presented_ok += sha256_hex(c.quote) == c.sha256 && c.end - c.start == c.quote.size();
    }
    valid += row.citations_valid;
    emitted += row.citations_emitted;
    latencies.push_back(row.total_ms);
    if (q.answerable) {
      ++r.answerable;
      bm25_hits += row.bm25_hit;
      hybrid_hits += row.hybrid_hit;
      declined_answerable += row.declined;
      cited_answers += !row.declined && row.citations_valid > 0;
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
  r.citations_emitted = emitted;
  r.citations_presented = presented;
  r.citation_validity = emitted ? ratio(valid, emitted) : 1.0;
  r.presented_citation_validity = presented ? ratio(presented_ok, presented) : 1.0;
  r.unanswerable_declined = ratio(declined_unanswerable, r.unanswerable);
  r.answerable_declined = ratio(declined_answerable, r.answerable);
  r.answered_with_citation = ratio(cited_answers, r.answerable);
  r.keyword_hit_rate = ratio(keyword_hits, answered);
  r.latency_p50_ms = percentile(latencies, 0.5);
  r.latency_p95_ms = percentile(latencies, 0.95);
  return r;
}

}  // namespace keel::assistant
