// The private research assistant of the local-research scenario: retrieve from a read-only
// document store, decide whether the passages support an answer, prompt the local model with
// numbered sources, stream its answer, then keep only the citations that check out.
//
// Layer: `assistant/` sits above `context/` (retrieval, citations) and `engine/` (the model);
// it owns prompting, the decline policy and the answer's metrics, and nothing else.
//
// Contract:
// - The store is opened read-only; documents are only read (to verify citations).
// - When no retrieved passage covers the question (idf-weighted share of the question's terms
//   found in the best passage below min_support), the assistant declines without generating.
// - After generation, citations are checked (context/citations.h); if none is valid the answer
//   is replaced by a decline that says so. Invalid citations are dropped and counted.
// - Nothing is written anywhere; no network is used (the caller installs the egress guard).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "context/citations.h"
#include "context/retriever.h"
#include "core/result.h"
#include "engine/context.h"
#include "engine/model.h"

namespace keel::assistant {

struct AssistantOptions {
  std::string store_path;
  std::string docs_dir;  //!< where documents are re-read; default: the folder the store records
  std::string model_path;
  std::optional<std::string> embed_model;  //!< default: none (BM25 only) unless the store has vectors
  int k = 4;
  context::RetrievalMode mode = context::RetrievalMode::hybrid;
  double min_support = 0.5;
  int64_t max_tokens = 200;
  float temperature = 0.0f;
  int threads = 0;
  int64_t n_ctx = 2048;
  int64_t source_chars = 600;  //!< each source is cut to about this many characters in the prompt
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
  int64_t outbound_bytes = 0;
  double support = 0;  //!< idf-weighted term coverage of the best passage
};

struct Answer {
  std::string question;
  std::string text;        //!< what the user sees (the model's answer, or the decline)
  std::string model_text;  //!< what the model wrote, before any replacement
  bool declined = false;
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
  //! The idf-weighted share of the question's terms found in a passage (0..1).
  [[nodiscard]] Result<double> support(const std::string& question, const std::string& passage);

  const engine::Model& model() const { return *model_; }
  bool has_vectors() const;
  const std::string& docs_dir() const { return options_.docs_dir; }

  //! The prompt given to the model for a question and its sources (exposed for tests).
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
  double load_ms_ = 0;
  int64_t stale_docs_ = 0;
  int64_t chunk_count_ = 0;
};

}  // namespace keel::assistant
