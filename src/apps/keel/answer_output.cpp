#include "apps/keel/answer_output.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/text_table.h"

namespace keel::app {

Json answer_json(const assistant::Answer& a) {
  Json citations = Json::array();
  for (const auto& c : a.citations) {
    citations.push_back({{"source", c.source}, {"doc", c.doc}, {"uri", c.uri}, {"start", c.start},
                         {"end", c.end}, {"page", c.page > 0 ? Json(c.page) : Json(nullptr)},
                         {"sha256", c.sha256}, {"quote", c.quote}});
  }
  Json dropped = Json::array();
  for (const auto& r : a.rejected) dropped.push_back({{"source", r.source}, {"reason", r.reason}});
  Json retrieved = Json::array();
  for (const auto& r : a.retrieved) {
    auto score = [](double v) { return v < 0 ? Json(nullptr) : Json(v); };
    auto rank = [](int v) { return v < 0 ? Json(nullptr) : Json(v); };
    retrieved.push_back({{"doc", r.document.path},
                         {"rank", r.rank},
                         {"start", r.chunk.start},
                         {"end", r.chunk.end},
                         {"page", r.chunk.page > 0 ? Json(r.chunk.page) : Json(nullptr)},
                         {"scores",
                          {{"fused", r.fused_score},
                           {"bm25", score(r.bm25_score)},
                           {"bm25_rank", rank(r.bm25_rank)},
                           {"vector", score(r.vector_similarity)},
                           {"vector_rank", rank(r.vector_rank)}}}});
  }
  const auto& m = a.metrics;
  return {{"question", a.question},
          {"answer", a.text},
          {"declined", a.declined},
          {"extracted", a.extracted},
          {"decline_reason", a.declined ? Json(a.decline_reason) : Json(nullptr)},
          {"model_answer", a.model_text},
          {"citations", citations},
          {"dropped_citations", dropped},
          {"retrieved", retrieved},
          {"metrics",
           {{"load_ms", m.load_ms},
            {"retrieval_ms", m.retrieval_ms},
            // Latencies of generation only: null when no token was generated (a quoted answer).
            {"ttft_ms", m.generated_tokens > 0 ? Json(m.ttft_ms) : Json(nullptr)},
            {"tpot_ms", m.generated_tokens > 1 ? Json(m.tpot_ms) : Json(nullptr)},
            {"total_ms", m.total_ms},
            {"prompt_tokens", m.prompt_tokens},
            {"generated_tokens", m.generated_tokens},
            {"rss_peak_bytes", m.rss_peak_bytes},
            {"citation_validity", m.citation_validity},
            {"citations_emitted", m.citations_emitted},
            {"citations_dropped", m.citations_dropped},
            {"stale_docs", m.stale_docs},
            {"support", m.support}}}};
}

std::string answer_unstreamed_text(const assistant::Answer& a) {
  return a.declined || a.extracted ? a.text : std::string();
}

std::string answer_footer(const assistant::Answer& a) {
  std::string out;
  if (a.declined && !a.model_text.empty()) {
    out += fmt::format("\n(The model wrote: \"{}\")\n", a.model_text.substr(0, 300));
  }
  if (!a.citations.empty()) {
    out += "\nCitations\n";
    for (const auto& c : a.citations) {
      out += fmt::format("  [{}] {}{} bytes {}-{}  sha256 {}...\n      \"{}\"\n", c.source, c.doc,
                         c.page > 0 ? fmt::format(" p.{}", c.page) : "", c.start, c.end, c.sha256.substr(0, 12),
                         c.quote.size() > 240 ? c.quote.substr(0, 240) + "..." : c.quote);
    }
  }
  for (const auto& r : a.rejected) out += fmt::format("  dropped [{}]: {}\n", r.source, r.reason);
  out += "\nRetrieved\n";
  TextTable t({"#", "document", "bytes", "fused", "bm25", "vector"});
  t.right_align(0);
  for (const auto& r : a.retrieved) {
    t.add_row({std::to_string(r.rank), r.document.path + (r.chunk.page > 0 ? fmt::format(" p.{}", r.chunk.page) : ""),
               fmt::format("{}-{}", r.chunk.start, r.chunk.end), fmt::format("{:.4f}", r.fused_score),
               r.bm25_rank > 0 ? fmt::format("#{} {:.2f}", r.bm25_rank, r.bm25_score) : "-",
               r.vector_rank > 0 ? fmt::format("#{} {:.3f}", r.vector_rank, r.vector_similarity) : "-"});
  }
  out += t.render();
  const auto& m = a.metrics;
  const std::string generation =
      m.generated_tokens == 0 ? std::string("no tokens generated")
                              : fmt::format("ttft {:.1f} ms, tpot {:.1f} ms", m.ttft_ms, m.generated_tokens > 1 ? m.tpot_ms : 0.0);
  out += fmt::format(
      "\nMetrics: load {:.0f} ms, retrieval {:.1f} ms, {}, peak RSS {:.1f} MiB, "
      "citation validity {:.0f}% ({} of {}), stale documents {}\n",
      m.load_ms, m.retrieval_ms, generation, m.rss_peak_bytes / 1048576.0, 100 * m.citation_validity,
      m.citations_emitted - m.citations_dropped, m.citations_emitted, m.stale_docs);
  return out;
}

bool is_bundled_tiny_model(const std::string& model_path) {
  return std::filesystem::path(model_path).filename().string().rfind("keel-tiny", 0) == 0;
}

std::string tiny_model_notice(bool extracted) {
  if (extracted) {
    return "Note: Keel's bundled tiny demo model cannot answer in its own words (keel eval measured it below the "
           "quality floor), so the answer quotes the sentences of your documents that best answer the question. "
           "For answers a model writes, pass a real GGUF, e.g. --model qwen2.5-1.5b-instruct-q4_k_m.gguf (or edit "
           "deployment.models in the spec); `keel eval local-research --record` measures it.\n";
  }
  return "Note: this answer comes from Keel's bundled tiny demo models (a few million parameters, "
         "trained for minutes on the sample corpus): they show the pipeline, not answer quality. "
         "For real answers pass a real GGUF, e.g. --model qwen2.5-1.5b-instruct-q4_k_m.gguf "
         "--embed-model bge-small-en-v1.5-q8_0.gguf (or edit deployment.models in the spec), and "
         "index again with that embedding model.\n";
}

Json outbound_json(const contract::EgressIsolation& isolation) {
  if (!isolation.meter) {
    return {{"bytes", nullptr}, {"packets", nullptr}, {"measured_by", "not measured: " + isolation.note}};
  }
  auto sent = isolation.meter->sent();
  if (!sent.ok()) return {{"bytes", nullptr}, {"packets", nullptr}, {"measured_by", sent.status().message()}};
  return {{"bytes", sent->bytes},
          {"packets", sent->packets},
          {"measured_by", "kernel transmit counters of the process's private network namespace"}};
}

assistant::AnswerMode parse_answer_mode(const std::string& name) {
  if (name == "generate") return assistant::AnswerMode::generate;
  if (name == "extract") return assistant::AnswerMode::extract;
  return assistant::AnswerMode::automatic;
}

}  // namespace keel::app
