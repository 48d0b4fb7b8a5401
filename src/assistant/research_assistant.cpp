#include "assistant/research_assistant.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "context/indexer.h"
#include "core/clock.h"
#include "engine/chat_template.h"
#include "engine/generator.h"

namespace keel::assistant {

namespace {

int64_t peak_rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return 0;
  char line[256];
  int64_t kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::strtoll(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kib * 1024;
}

// The source text shown to the model: the chunk, cut at a word boundary near the limit.
std::string excerpt(const std::string& text, int64_t max_chars) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (static_cast<int64_t>(out.size()) <= max_chars) return out;
  size_t cut = out.rfind(' ', static_cast<size_t>(max_chars));
  if (cut == std::string::npos || cut < static_cast<size_t>(max_chars) / 2) cut = static_cast<size_t>(max_chars);
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // whole characters
  return out.substr(0, cut) + " ...";
}

constexpr const char* kSystemPrompt =
    "You answer questions using only the numbered sources. Cite the sources you use as [n]. If the "
    "sources do not contain the answer, say that you do not know.";

}  // namespace

ResearchAssistant::~ResearchAssistant() = default;

bool ResearchAssistant::has_vectors() const { return retriever_ && retriever_->has_vectors(); }

Result<std::unique_ptr<ResearchAssistant>> ResearchAssistant::open(const AssistantOptions& options) {
  const int64_t start = monotonic_now_ns();
  std::unique_ptr<ResearchAssistant> a(new ResearchAssistant());
  a->options_ = options;
  KEEL_ASSIGN_OR_RETURN(a->store_, context::DocumentStore::open(options.store_path, /*read_only=*/true));
  KEEL_ASSIGN_OR_RETURN(auto root, a->store_->meta("docs_root"));
  if (a->options_.docs_dir.empty()) {
    if (!root) return Status::failed_precondition(fmt::format("{} does not record its documents folder", options.store_path));
    a->options_.docs_dir = *root;
  }
  KEEL_ASSIGN_OR_RETURN(a->chunk_count_, a->store_->count_chunks());
  KEEL_ASSIGN_OR_RETURN(auto stored_model, a->store_->meta("embed_model"));
  if (options.embed_model) {
    KEEL_ASSIGN_OR_RETURN(a->embedder_, context::Embedder::open(*options.embed_model, options.threads));
    if (stored_model && *stored_model != a->embedder_->model_id()) {
      return Status::failed_precondition(fmt::format(
          "{} was indexed with {}, but the embedding model given is {}; use the same model",
          options.store_path, *stored_model, a->embedder_->model_id()));
    }
    if (!stored_model) {
      return Status::failed_precondition(fmt::format(
          "{} has no vectors; index it with --embed-model to use vector retrieval", options.store_path));
    }
    KEEL_ASSIGN_OR_RETURN(auto index_sha, a->store_->meta("vector_index_sha256"));
    KEEL_ASSIGN_OR_RETURN(a->index_, context::VectorIndex::load(context::VectorIndex::path_for_store(options.store_path),
                                                                a->embedder_->dims(), static_cast<size_t>(a->chunk_count_),
                                                                index_sha.value_or("")));
  }
  a->retriever_ = std::make_unique<context::Retriever>(*a->store_, a->embedder_.get(), a->index_.get());
  KEEL_ASSIGN_OR_RETURN(a->model_, engine::Model::load(options.model_path));
  if (a->model_->config().arch == engine::Architecture::bert) {
    return Status::invalid_argument(fmt::format("{} is an embedding model; answering needs a generative model",
                                                options.model_path));
  }
  engine::ContextOptions copts;
  copts.n_ctx = options.n_ctx;
  copts.n_batch = 256;
  copts.n_threads = options.threads;
  KEEL_ASSIGN_OR_RETURN(a->context_, engine::Context::create(*a->model_, copts));
  auto freshness = context::check_freshness(*a->store_, a->options_.docs_dir);
  if (freshness.ok()) a->stale_docs_ = static_cast<int64_t>(freshness->stale.size() + freshness->missing.size());
  a->load_ms_ = (monotonic_now_ns() - start) / 1e6;
  return a;
}

Result<std::vector<context::RetrievedChunk>> ResearchAssistant::retrieve(const std::string& question,
                                                                         context::RetrievalMode mode, int k) {
  context::RetrievalOptions r;
  r.k = k;
  r.mode = has_vectors() ? mode : context::RetrievalMode::bm25;
  return retriever_->retrieve(question, r);
}

Result<double> ResearchAssistant::support(const std::string& question, const std::string& passage) {
  auto terms = context::DocumentStore::query_terms(question);
  if (terms.empty()) return 0.0;
  KEEL_ASSIGN_OR_RETURN(auto counts, store_->term_chunk_counts(terms));
  auto passage_terms = context::DocumentStore::query_terms(passage);
  std::set<std::string> present(passage_terms.begin(), passage_terms.end());
  double total = 0, found = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    // Rare terms say more about what the question is after; unknown terms count the most.
    double idf = std::log(1.0 + static_cast<double>(chunk_count_ + 1) / (1.0 + counts[i]));
    total += idf;
    if (present.count(terms[i])) found += idf;
  }
  return total > 0 ? found / total : 0.0;
}

std::string ResearchAssistant::build_prompt(const std::string& question,
                                            const std::vector<context::RetrievedChunk>& sources) const {
  std::string user = "Sources:\n";
  for (const auto& s : sources) {
    user += fmt::format("[{}] {}\n", s.rank, excerpt(s.chunk.text, options_.source_chars));
  }
  user += fmt::format("\nQuestion: {}", question);
  auto kind = engine::chat_template_of(model_->file());
  engine::ChatTemplate t = kind.ok() ? *kind : engine::ChatTemplate::raw;
  if (t == engine::ChatTemplate::raw) {
    return fmt::format("{}\n\n{}\nAnswer:", kSystemPrompt, user);
  }
  return engine::format_chat(t, {{"system", kSystemPrompt}, {"user", user}});
}

Result<Answer> ResearchAssistant::ask(const std::string& question,
                                      const std::function<void(std::string_view)>& on_text) {
  const int64_t start = monotonic_now_ns();
  Answer answer;
  answer.question = question;
  answer.metrics.load_ms = load_ms_;
  answer.metrics.stale_docs = stale_docs_;
  KEEL_ASSIGN_OR_RETURN(answer.retrieved, retrieve(question, options_.mode, options_.k));
  answer.metrics.retrieval_ms = (monotonic_now_ns() - start) / 1e6;

  double best_support = 0;
  for (const auto& r : answer.retrieved) {
    KEEL_ASSIGN_OR_RETURN(double s, support(question, r.chunk.text));
    best_support = std::max(best_support, s);
  }
  answer.metrics.support = best_support;
  auto finish = [&]() -> Answer {
    answer.metrics.total_ms = (monotonic_now_ns() - start) / 1e6;
    answer.metrics.rss_peak_bytes = peak_rss_bytes();
    return std::move(answer);
  };
  if (answer.retrieved.empty() || best_support < options_.min_support) {
    answer.declined = true;
    answer.decline_reason = answer.retrieved.empty()
                                ? "no indexed passage matches the question"
                                : fmt::format("the best passage covers {:.0f}% of the question (needs {:.0f}%)",
                                              100 * best_support, 100 * options_.min_support);
    answer.text = "I cannot answer that from your documents: " + answer.decline_reason + ".";
    return finish();
  }

  const auto& tokenizer = model_->tokenizer();
  auto template_kind = engine::chat_template_of(model_->file());
  engine::ChatTemplate t = template_kind.ok() ? *template_kind : engine::ChatTemplate::raw;
  std::string prompt = build_prompt(question, answer.retrieved);
  auto tokens = tokenizer.encode(prompt, true, /*parse_special=*/t != engine::ChatTemplate::raw);
  // Keep the prompt inside the context, leaving room for the answer: drop the last sources.
  auto sources = answer.retrieved;
  while (static_cast<int64_t>(tokens.size()) + options_.max_tokens > options_.n_ctx && sources.size() > 1) {
    sources.pop_back();
    prompt = build_prompt(question, sources);
    tokens = tokenizer.encode(prompt, true, t != engine::ChatTemplate::raw);
  }
  if (static_cast<int64_t>(tokens.size()) + options_.max_tokens > options_.n_ctx) {
    return Status::resource_exhausted(fmt::format("the prompt ({} tokens) does not fit the context of {}",
                                                  tokens.size(), options_.n_ctx));
  }
  KEEL_ASSIGN_OR_RETURN(int32_t seq, context_->add_sequence());
  engine::GenerateOptions g;
  g.max_tokens = options_.max_tokens;
  g.sampling.temperature = options_.temperature;
  g.sampling.repeat_penalty = 1.1f;
  if (!engine::end_of_turn(t).empty()) g.stop.push_back(std::string(engine::end_of_turn(t)));
  g.stop.push_back("\nQuestion:");
  auto result = engine::generate(*context_, seq, tokens, g, [&](std::string_view piece) {
    if (on_text) on_text(piece);
    return true;
  });
  context_->remove_sequence(seq);
  if (!result.ok()) return result.status();
  answer.model_text = result->text;
  answer.metrics.ttft_ms = result->timings.ttft_ms;
  answer.metrics.tpot_ms = result->timings.tpot_ms;
  answer.metrics.prompt_tokens = result->timings.prompt_tokens;
  answer.metrics.generated_tokens = result->timings.generated_tokens;

  context::CitationCheck check =
      context::check_citations(context::cited_sources(result->text), sources, options_.docs_dir);
  answer.citations = std::move(check.valid);
  answer.rejected = std::move(check.rejected);
  answer.metrics.citations_emitted = static_cast<int>(answer.citations.size() + answer.rejected.size());
  answer.metrics.citations_dropped = static_cast<int>(answer.rejected.size());
  answer.metrics.citation_validity =
      answer.metrics.citations_emitted ? static_cast<double>(answer.citations.size()) / answer.metrics.citations_emitted
                                       : 1.0;
  std::string text = result->text;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  if (answer.citations.empty()) {
    answer.declined = true;
    answer.decline_reason = answer.rejected.empty() ? "the model's answer cites no source"
                                                    : "none of the answer's citations checks out";
    answer.text = "I cannot give a supported answer: " + answer.decline_reason + ".";
  } else {
    answer.text = text;
  }
  return finish();
}

}  // namespace keel::assistant
