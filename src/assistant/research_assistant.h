// The private research assistant of the local-research scenario: retrieve from a read-only
// document store, decide whether the passages support an answer, then answer in one of two
// ways: prompt the local model with numbered sources and stream its answer, or quote the
// sentences of the passages that best answer the question (extractive_answer.h). Either way
// only the citations that check out are kept.
//
// Layer: `assistant/` sits above `context/` (retrieval, citations) and `engine/` (the model);
// it owns prompting, the decline policy and the answer's metrics, and nothing else.
//
// Contract:
// - The store is opened read-only; documents are only read (to verify citations).
// - The assistant declines without answering when nothing retrieved covers the question: a rare
//   name or code the question asks about (K008, Q5_K, Linux) is absent from the best passages,
//   or the best window of sentences (extractive_answer.h) covers less than min_support of the
//   question's idf-weighted terms.
// - The answer mode: `generate` and `extract` are what they say; `automatic` generates unless
//   the model's evaluation record (answer_quality.h) shows it below quality_floor, and then
//   extracts without loading the generator. answer_mode_reason() says which and why.
// - After answering, citations are checked (context/citations.h); if none is valid the answer
//   is replaced by a decline that says so. Invalid citations are dropped and counted.
// - Nothing is written anywhere; no network is used (the caller installs the egress guard).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assistant/extractive_answer.h"
#include "context/citations.h"
#include "context/retriever.h"
#include "core/result.h"
#include "engine/context.h"
#include "engine/model.h"

namespace keel::assistant {

enum class AnswerMode { automatic, generate, extract };

struct AssistantOptions {
  std::string store_path;
  std::string docs_dir;  //!< where documents are re-read; default: the folder the store records
  std::string model_path;
  std::optional<std::string> embed_model;  //!< default: none (BM25 only) unless the store has vectors
  int k = 4;
  context::RetrievalMode mode = context::RetrievalMode::hybrid;
  double min_support = 0.3;
  int64_t max_tokens = 200;
  float temperature = 0.0f;
  int threads = 0;
  int64_t n_ctx = 2048;
  int64_t source_chars = 600;  //!< each source is cut to about this many characters in the prompt
  AnswerMode answer_mode = AnswerMode::automatic;
  //! automatic: generate only when the model's recorded answered_correctly is at least this.
  double quality_floor = 0.5;
};

struct AnswerMetrics {
  double load_ms = 0;
  double retrieval_ms = 0;
  double ttft_ms = 0;
  double tpot_ms = 0;
  double total_ms = 0;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t rss_peak_bytes = 0;
  double citation_validity = 1.0;
  int citations_emitted = 0;
  int citations_dropped = 0;
  int64_t stale_docs = 0;
  double support = 0;  //!< idf-weighted share of the question the best window of sentences covers
};

struct Answer {
  std::string question;
  std::string text;        //!< what the user sees (the model's answer, or the decline)
  std::string model_text;  //!< what the model wrote, before any replacement
  bool declined = false;
  bool extracted = false;  //!< the text quotes the documents; no model wrote it
  std::string decline_reason;
  std::vector<context::Citation> citations;
  std::vector<context::RejectedCitation> rejected;
  std::vector<context::RetrievedChunk> retrieved;
  AnswerMetrics metrics;
};

class ResearchAssistant {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ResearchAssistant>> open(const AssistantOptions& options);
  ~ResearchAssistant();

  //! on_text receives the answer as it is generated (before the citation check).
  [[nodiscard]] Result<Answer> ask(const std::string& question,
                                   const std::function<void(std::string_view)>& on_text = {});

  //! Retrieval only (for evaluation): the same retrieval the answers use.
  [[nodiscard]] Result<std::vector<context::RetrievedChunk>> retrieve(const std::string& question,
                                                                      context::RetrievalMode mode, int k);

  //! The generator; null when the assistant answers extractively (it is then not loaded).
  const engine::Model* model() const { return model_.get(); }
  //! generate or extract, as resolved by open().
  AnswerMode answer_mode() const { return options_.answer_mode; }
  const std::string& answer_mode_reason() const { return answer_mode_reason_; }
  bool has_vectors() const;
  const std::string& docs_dir() const { return options_.docs_dir; }

  //! The prompt given to the model for a question and its sources (exposed for tests; needs the
  //! generator).
  std::string build_prompt(const std::string& question, const std::vector<context::RetrievedChunk>& sources) const;

 private:
  ResearchAssistant() = default;
  AssistantOptions options_;
  std::unique_ptr<context::DocumentStore> store_;
  std::unique_ptr<context::Embedder> embedder_;
  std::unique_ptr<context::VectorIndex> index_;
  std::unique_ptr<context::Retriever> retriever_;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Context> context_;
  struct QuestionTerm {
    std::string stem;
    int64_t chunks = 0;  //!< chunks of the store holding the term
  };
  //! The question's content words, stemmed, with how many chunks hold each.
  [[nodiscard]] Result<std::vector<QuestionTerm>> question_terms(const std::string& question);
  //! Inverse document frequency over the store's chunks; unknown terms weigh the most.
  double idf(int64_t chunks) const;
  [[nodiscard]] Status resolve_answer_mode();
  [[nodiscard]] Status answer_extractively(Answer& answer, const ExtractedAnswer& extracted);
  [[nodiscard]] Status answer_with_model(Answer& answer, const std::function<void(std::string_view)>& on_text);

  std::string answer_mode_reason_;
  double load_ms_ = 0;
  int64_t stale_docs_ = 0;
  int64_t chunk_count_ = 0;
};

}  // namespace keel::assistant
