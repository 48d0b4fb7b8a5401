// `keel eval local-research`: a question set over the bundled corpus, labelled with the spans of
// the documents that answer each question (gold spans) and with unanswerable questions, measured
// on retrieval (recall@k for BM25 alone and hybrid), answers (answerable questions answered with
// a correct citation; unanswerable ones declined) and citations (each shown citation re-read
// from the document, and judged against the gold spans).
//
// Contract:
// - Questions come from a JSON file ([{id, question, answerable, expected_docs, answer_keywords,
//   gold: [{doc, quote}]}]); every answerable question needs at least one gold span. A gold
//   quote must occur exactly once in its document's extracted text (runs of white space match
//   any white space); a malformed file or a quote that does not occur exactly once is an error
//   naming the question.
// - A citation is grounded when its quote is the document's extracted text at its byte range
//   (re-read here, independently of the citation checker), and correct when it is grounded and
//   its range overlaps a gold span of the same document. A question is answered correctly when
//   the answer is not a decline, has a correct citation, and states one of the question's
//   answer keywords (a right citation under a wrong sentence is not an answer).
// - Every figure is computed from the runs, never assumed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "assistant/research_assistant.h"
#include "core/result.h"

namespace keel::assistant {

struct GoldSpan {
  std::string doc;    //!< relative to the documents folder
  std::string quote;  //!< as written in the question file
  uint64_t start = 0, end = 0;  //!< resolved byte range in the document's extracted text
};

struct EvalQuestion {
  std::string id;
  std::string question;
  bool answerable = true;
  std::vector<std::string> expected_docs;
  std::vector<std::string> answer_keywords;
  std::vector<GoldSpan> gold;
};

//! Loads the question set and resolves every gold quote against the documents in docs_dir.
[[nodiscard]] Result<std::vector<EvalQuestion>> load_questions(const std::string& path, const std::string& docs_dir);

//! Byte range [start, end) of `quote` in `text`, where runs of white space in either match any
//! run of white space in the other; not_found when absent, invalid_argument when ambiguous.
[[nodiscard]] Result<std::pair<uint64_t, uint64_t>> find_quote(std::string_view text, std::string_view quote);

struct EvalRow {
  std::string id;
  bool answerable = true;
  bool bm25_hit = false, hybrid_hit = false;
  bool declined = false;
  bool extracted = false;
  bool answered_correctly = false;  //!< answerable, not declined, a correct citation and a keyword
  bool keywords_found = false;
  int citations_shown = 0, citations_grounded = 0, citations_correct = 0, citations_emitted = 0;
  double support = 0;
  double total_ms = 0;
  std::string answer;
};

struct EvalReport {
  int k = 5;
  std::string answer_mode;  //!< "generate" or "extract"
  int answerable = 0, unanswerable = 0;
  double recall_bm25 = 0, recall_hybrid = 0;
  bool hybrid_available = false;
  double answered_correctly = 0;     //!< share of answerable questions answered correctly (see above)
  double answerable_declined = 0;    //!< share of answerable questions declined
  double unanswerable_declined = 0;  //!< share of unanswerable questions declined
  double citation_validity = 1.0;    //!< citations the checker kept / citations the answers made
  int citations_emitted = 0, citations_shown = 0;
  double citation_grounded = 1.0;  //!< shown citations whose quote is the document's bytes / shown
  double citation_correct = 1.0;   //!< shown citations inside a gold span / shown
  double keyword_hit_rate = 0;     //!< share of answered questions whose answer has a keyword
  double latency_p50_ms = 0, latency_p95_ms = 0;
  std::vector<EvalRow> rows;
};

[[nodiscard]] Result<EvalReport> evaluate(ResearchAssistant& assistant, const std::vector<EvalQuestion>& questions,
                                          int k,
                                          const std::function<void(const EvalRow&, size_t, size_t)>& progress = {});

}  // namespace keel::assistant
