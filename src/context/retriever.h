// Hybrid retrieval over a document store: BM25 (FTS5) and vector search (the embedding model
// and the nearest-neighbour index), fused by reciprocal rank (score = sum of 1 / (60 + rank)).
//
// Contract: retrieve() returns at most k chunks, best first, each with its document, its rank
// and every score that contributed (absent ones are -1). Without an embedder or vector index
// it is BM25 alone. Read-only: the store may be opened read-only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "context/embedder.h"
#include "context/store.h"
#include "context/vector_index.h"

namespace keel::context {

struct RetrievedChunk {
  StoredChunk chunk;
  StoredDocument document;
  int rank = 0;            //!< 1-based, after fusion
  double fused_score = 0;  //!< reciprocal-rank fusion score
  int bm25_rank = -1;      //!< 1-based, -1 when BM25 did not return it
  double bm25_score = -1;
  int vector_rank = -1;
  double vector_similarity = -1;
};

enum class RetrievalMode { bm25, vector, hybrid };

struct RetrievalOptions {
  int k = 5;
  int candidates = 50;  //!< per retriever, before fusion
  int rrf_k = 60;
  RetrievalMode mode = RetrievalMode::hybrid;
};

class Retriever {
 public:
  //! embedder and index may be null (BM25 only).
  Retriever(DocumentStore& store, Embedder* embedder, const VectorIndex* index)
      : store_(store), embedder_(embedder), index_(index) {}

  [[nodiscard]] Result<std::vector<RetrievedChunk>> retrieve(const std::string& query,
                                                             const RetrievalOptions& options);
  bool has_vectors() const { return embedder_ && index_; }

 private:
  DocumentStore& store_;
  Embedder* embedder_;
  const VectorIndex* index_;
};

}  // namespace keel::context
