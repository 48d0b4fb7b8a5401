#include "context/retriever.h"

#include <algorithm>
#include <map>

namespace keel::context {

Result<std::vector<RetrievedChunk>> Retriever::retrieve(const std::string& query, const RetrievalOptions& o) {
  struct Candidate {
    int bm25_rank = -1;
    double bm25_score = -1;
    int vector_rank = -1;
    double similarity = -1;
    double fused = 0;
  };
  std::map<int64_t, Candidate> candidates;
  if (o.mode != RetrievalMode::vector) {
    KEEL_ASSIGN_OR_RETURN(auto hits, store_.search_bm25(query, o.candidates));
    for (size_t i = 0; i < hits.size(); ++i) {
      Candidate& c = candidates[hits[i].first];
      c.bm25_rank = static_cast<int>(i) + 1;
      c.bm25_score = hits[i].second;
      c.fused += 1.0 / (o.rrf_k + c.bm25_rank);
    }
  }
  if (o.mode != RetrievalMode::bm25 && has_vectors()) {
    KEEL_ASSIGN_OR_RETURN(auto vectors, embedder_->embed({query}));
    auto hits = index_->search(vectors[0], static_cast<size_t>(o.candidates));
    for (size_t i = 0; i < hits.size(); ++i) {
      Candidate& c = candidates[hits[i].chunk_id];
      c.vector_rank = static_cast<int>(i) + 1;
      c.similarity = hits[i].similarity;
      c.fused += 1.0 / (o.rrf_k + c.vector_rank);
    }
  }
  std::vector<std::pair<int64_t, Candidate>> ranked(candidates.begin(), candidates.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    if (a.second.fused != b.second.fused) return a.second.fused > b.second.fused;
    return a.first < b.first;
  });
  std::vector<RetrievedChunk> out;
  std::map<int64_t, StoredDocument> documents;
  for (const auto& [chunk_id, c] : ranked) {
    if (static_cast<int>(out.size()) >= o.k) break;
    RetrievedChunk r;
    KEEL_ASSIGN_OR_RETURN(r.chunk, store_.chunk(chunk_id));
    auto it = documents.find(r.chunk.doc_id);
    if (it == documents.end()) {
      KEEL_ASSIGN_OR_RETURN(auto doc, store_.document_by_id(r.chunk.doc_id));
      it = documents.emplace(r.chunk.doc_id, std::move(doc)).first;
    }
    r.document = it->second;
    r.rank = static_cast<int>(out.size()) + 1;
    r.fused_score = c.fused;
    r.bm25_rank = c.bm25_rank;
    r.bm25_score = c.bm25_score;
    r.vector_rank = c.vector_rank;
    r.vector_similarity = c.similarity;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace keel::context
