#include "assistant/research_assistant.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "assistant/answer_quality.h"
#include "assistant/extractive_answer.h"
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

// A name of the question is rare when it is in at most this share of the store's chunks.
constexpr double kRareShare = 0.1;
// Extract mode also reads the passage that follows each of this many best passages.
constexpr size_t kPassagesReadOn = 2;

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
  KEEL_RETURN_IF_ERROR(a->resolve_answer_mode());
  if (a->options_.answer_mode == AnswerMode::generate) {
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
  }
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

Status ResearchAssistant::resolve_answer_mode() {
  const std::string file = std::filesystem::path(options_.model_path).filename().string();
  switch (options_.answer_mode) {
    case AnswerMode::generate:
      answer_mode_reason_ = fmt::format("{} answers in its own words (asked for)", file);
      return Status();
    case AnswerMode::extract:
      answer_mode_reason_ = "answers quote the documents' sentences (asked for)";
      return Status();
    case AnswerMode::automatic: break;
  }
  KEEL_ASSIGN_OR_RETURN(auto record, current_answer_quality(options_.model_path));
  if (!record) {
    options_.answer_mode = AnswerMode::generate;
    answer_mode_reason_ = fmt::format("{} answers in its own words (no `keel eval --record` figure for it)", file);
  } else if (record->answered_correctly < options_.quality_floor) {
    options_.answer_mode = AnswerMode::extract;
    answer_mode_reason_ = fmt::format(
        "answers quote the documents' sentences: {} answered {:.0f}% of keel eval's answerable questions with a "
        "correct citation, below the {:.0f}% floor (--answer generate uses it anyway)",
        file, 100 * record->answered_correctly, 100 * options_.quality_floor);
  } else {
    options_.answer_mode = AnswerMode::generate;
    answer_mode_reason_ = fmt::format(
        "{} answers in its own words: it answered {:.0f}% of keel eval's answerable questions with a correct "
        "citation (floor {:.0f}%)",
        file, 100 * record->answered_correctly, 100 * options_.quality_floor);
  }
  return Status();
}

Result<std::vector<ResearchAssistant::QuestionTerm>> ResearchAssistant::question_terms(const std::string& question) {
  auto terms = context::DocumentStore::query_terms(question);
  std::vector<QuestionTerm> out;
  if (terms.empty()) return out;
  KEEL_ASSIGN_OR_RETURN(auto counts, store_->term_chunk_counts(terms));
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string stem = stem_term(terms[i]);
    auto same = std::find_if(out.begin(), out.end(), [&](const QuestionTerm& t) { return t.stem == stem; });
    if (same != out.end()) {
      same->chunks = std::min(same->chunks, counts[i]);
      continue;
    }
    out.push_back({stem, counts[i]});
  }
  return out;
}

double ResearchAssistant::idf(int64_t chunks) const {
  // Rare terms say more about what the question is after; unknown terms count the most.
  return std::log(1.0 + static_cast<double>(chunk_count_ + 1) / (1.0 + static_cast<double>(chunks)));
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

  auto finish = [&]() -> Answer {
    answer.metrics.total_ms = (monotonic_now_ns() - start) / 1e6;
    answer.metrics.rss_peak_bytes = peak_rss_bytes();
    return std::move(answer);
  };
  auto decline = [&](std::string reason) {
    answer.declined = true;
    answer.decline_reason = std::move(reason);
    answer.text = "I cannot answer that from your documents: " + answer.decline_reason + ".";
    return finish();
  };
  if (answer.retrieved.empty()) return decline("no indexed passage matches the question");
  KEEL_ASSIGN_OR_RETURN(auto terms, question_terms(question));
  std::vector<WeightedTerm> weighted;
  for (const auto& t : terms) weighted.push_back({t.stem, idf(t.chunks)});

  // A rare name or code the question asks about (K008, Q5_K, Linux) must be in the document an
  // answer comes from: a passage of a document that never mentions it is about something else.
  std::vector<std::string> names;
  {
    auto identifiers = identifier_terms(question);
    KEEL_ASSIGN_OR_RETURN(auto counts, store_->term_chunk_counts(identifiers));
    for (size_t i = 0; i < identifiers.size(); ++i) {
      if (static_cast<double>(counts[i]) <= kRareShare * static_cast<double>(chunk_count_)) names.push_back(identifiers[i]);
    }
  }
  std::vector<bool> may_answer(answer.retrieved.size(), true);
  std::map<int64_t, bool> document_names_all;
  for (size_t p = 0; p < answer.retrieved.size(); ++p) {
    const int64_t doc = answer.retrieved[p].document.id;
    auto known = document_names_all.find(doc);
    if (known == document_names_all.end()) {
      bool all = true;
      for (const auto& name : names) {
        KEEL_ASSIGN_OR_RETURN(bool mentioned, store_->document_mentions(doc, name));
        all = all && mentioned;
      }
      known = document_names_all.emplace(doc, all).first;
    }
    may_answer[p] = known->second;
  }
  if (!names.empty() && std::none_of(may_answer.begin(), may_answer.end(), [](bool b) { return b; })) {
    return decline(fmt::format("no matching document mentions {}", fmt::join(names, " and ")));
  }

  // The best window of the passages; extract mode may read on into the next passage of a
  // document to finish a list.
  FollowingPassage following;
  if (options_.answer_mode == AnswerMode::extract) {
    // An answer often sits right after the passage that matches the question best (a section's
    // introduction matches; its list answers): the passages after the best ones are read too.
    const size_t best = std::min(answer.retrieved.size(), kPassagesReadOn);
    for (size_t p = 0; p < best; ++p) {
      KEEL_ASSIGN_OR_RETURN(auto next, store_->next_chunk(answer.retrieved[p].chunk));
      if (!next || std::any_of(answer.retrieved.begin(), answer.retrieved.end(),
                               [&](const context::RetrievedChunk& r) { return r.chunk.id == next->id; })) {
        continue;
      }
      context::RetrievedChunk continuation;
      continuation.document = answer.retrieved[p].document;
      continuation.chunk = std::move(*next);
      continuation.rank = static_cast<int>(answer.retrieved.size() + 1);
      answer.retrieved.push_back(std::move(continuation));
      may_answer.push_back(may_answer[p]);
    }
    following = [&](int source) -> std::optional<int> {
      const context::StoredChunk from = answer.retrieved[static_cast<size_t>(source - 1)].chunk;
      auto next = store_->next_chunk(from);
      if (!next.ok() || !*next) return std::nullopt;
      for (size_t i = 0; i < answer.retrieved.size(); ++i) {
        if (answer.retrieved[i].chunk.id == (*next)->id) return static_cast<int>(i + 1);
      }
      context::RetrievedChunk continuation;
      continuation.document = answer.retrieved[static_cast<size_t>(source - 1)].document;
      continuation.chunk = std::move(**next);
      continuation.rank = static_cast<int>(answer.retrieved.size() + 1);
      answer.retrieved.push_back(std::move(continuation));
      return static_cast<int>(answer.retrieved.size());
    };
  }
  ExtractOptions extract_options;
  extract_options.needs_person = asks_for_person(question);
  extract_options.question = question;
  ExtractedAnswer extracted = extract_answer(weighted, answer.retrieved, may_answer, following, extract_options);
  answer.metrics.support = extracted.coverage;
  if (extracted.sentences.empty() && extract_options.needs_person) {
    return decline("the question asks who, and no matching passage names a person");
  }
  if (extracted.sentences.empty() || extracted.coverage < options_.min_support) {
    return decline(fmt::format("the best passage covers {:.0f}% of the question (needs {:.0f}%)",
                               100 * extracted.coverage, 100 * options_.min_support));
  }

  KEEL_RETURN_IF_ERROR(options_.answer_mode == AnswerMode::extract ? answer_extractively(answer, extracted)
                                                                    : answer_with_model(answer, on_text));
  answer.metrics.citations_emitted = static_cast<int>(answer.citations.size() + answer.rejected.size());
  answer.metrics.citations_dropped = static_cast<int>(answer.rejected.size());
  answer.metrics.citation_validity =
      answer.metrics.citations_emitted ? static_cast<double>(answer.citations.size()) / answer.metrics.citations_emitted
                                       : 1.0;
  if (answer.citations.empty() && !answer.declined) {
    answer.declined = true;
    answer.extracted = false;
    answer.decline_reason = answer.rejected.empty() ? "the answer cites no source"
                                                    : "none of the answer's citations checks out";
    answer.text = "I cannot give a supported answer: " + answer.decline_reason + ".";
  }
  return finish();
}

Status ResearchAssistant::answer_extractively(Answer& answer, const ExtractedAnswer& extracted) {
  std::vector<context::CitedSpan> spans;
  for (const auto& s : extracted.sentences) spans.push_back({s.source, s.start, s.end});
  context::CitationCheck check = context::check_citations(spans, answer.retrieved, options_.docs_dir);
  // Only sentences whose citation checks out are shown.
  std::vector<ExtractedSentence> shown;
  for (const auto& c : check.valid) {
    for (const auto& s : extracted.sentences) {
      if (s.source == c.source && s.start == c.start) shown.push_back(s);
    }
  }
  answer.citations = std::move(check.valid);
  answer.rejected = std::move(check.rejected);
  if (!shown.empty()) {
    answer.extracted = true;
    answer.text = format_extracted_answer(shown);
  }
  return Status();
}

Status ResearchAssistant::answer_with_model(Answer& answer, const std::function<void(std::string_view)>& on_text) {
  const auto& tokenizer = model_->tokenizer();
  auto template_kind = engine::chat_template_of(model_->file());
  engine::ChatTemplate t = template_kind.ok() ? *template_kind : engine::ChatTemplate::raw;
  std::string prompt = build_prompt(answer.question, answer.retrieved);
  auto tokens = tokenizer.encode(prompt, true, /*parse_special=*/t != engine::ChatTemplate::raw);
  // Keep the prompt inside the context, leaving room for the answer: drop the last sources.
  auto sources = answer.retrieved;
  while (static_cast<int64_t>(tokens.size()) + options_.max_tokens > options_.n_ctx && sources.size() > 1) {
    sources.pop_back();
    prompt = build_prompt(answer.question, sources);
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

  context::CitationCheck check = context::check_citations(
      context::whole_chunks(context::cited_sources(result->text), sources), sources, options_.docs_dir);
  answer.citations = std::move(check.valid);
  answer.rejected = std::move(check.rejected);
  std::string text = result->text;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  answer.text = text;
  return Status();
}

}  // namespace keel::assistant
