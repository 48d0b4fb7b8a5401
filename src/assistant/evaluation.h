// `keel eval local-research`: a question set over the bundled corpus, with the documents that
// hold each answer and unanswerable questions, measured on retrieval (recall@k for BM25 alone
// and hybrid), citations (valid / emitted, and a re-check of every presented citation against
// the documents) and declining (unanswerable questions declined, answerable ones not).
//
// Contract: questions come from a JSON file ([{id, question, answerable, expected_docs,
// answer_keywords}]); a malformed file is an error naming the question. Every figure is
// computed from the runs, never assumed.
#pragma once

#include <string>
#include <vector>

#include "assistant/research_assistant.h"
#include "core/result.h"

namespace keel::assistant {

struct EvalQuestion {
  std::string id;
  std::string question;
  bool answerable = true;
  std::vector<std::string> expected_docs;
  std::vector<std::string> answer_keywords;
};

[[nodiscard]] Result<std::vector<EvalQuestion>> load_questions(const std::string& path);

struct EvalRow {
  std::string id;
  bool answerable = true;
  bool bm25_hit = false, hybrid_hit = false;
  bool declined = false;
  bool keywords_found = false;
  int citations_valid = 0, citations_emitted = 0;
  double support = 0;
  double total_ms = 0;
  std::string answer;
};

struct EvalReport {
  int k = 5;
  int answerable = 0, unanswerable = 0;
  double recall_bm25 = 0, recall_hybrid = 0;
  bool hybrid_available = false;
  double citation_validity = 1.0;            //!< valid / emitted, over all answers
  double presented_citation_validity = 1.0;  //!< re-checked citations shown to users / shown
  int citations_emitted = 0, citations_presented = 0;
  double unanswerable_declined = 0;  //!< share of unanswerable questions declined
  double answerable_declined = 0;    //!< share of answerable questions declined
  double answered_with_citation = 0; //!< share of answerable questions answered with >= 1 valid citation
  double keyword_hit_rate = 0;       //!< share of answered questions whose answer has a keyword
  double latency_p50_ms = 0, latency_p95_ms = 0;
  std::vector<EvalRow> rows;
};

[[nodiscard]] Result<EvalReport> evaluate(ResearchAssistant& assistant,
                                          const std::vector<EvalQuestion>& questions, int k,
                                          const std::function<void(const EvalRow&, size_t, size_t)>& progress = {});

}  // namespace keel::assistant
