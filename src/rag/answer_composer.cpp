#include "rag/answer_composer.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "core/clock.h"
#include "core/hash.h"
#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"

namespace keel::rag {
namespace {

constexpr const char* kInstructions =
    "You answer questions using only the numbered sources. Cite the sources you use as [n]. State "
    "figures exactly as the sources write them. If the sources do not contain the answer, say that "
    "you do not know.";

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// The text without its source markers ("[2]"): a citation is not a figure.
std::string without_citations(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '[') {
      size_t j = i + 1;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
      if (j > i + 1 && j < text.size() && text[j] == ']') {
        i = j;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// The figures a text states, each written without thousands separators.
std::vector<std::string> figures_of(std::string_view raw) {
  const std::string cleaned = without_citations(raw);
  const std::string_view text = cleaned;
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    std::string figure;
    bool decimal = false;
    while (i < text.size()) {
      char c = text[i];
      if (is_digit(c)) {
        figure += c;
        ++i;
      } else if (c == ',' && !decimal && i + 3 < text.size() && is_digit(text[i + 1]) && is_digit(text[i + 2]) &&
                 is_digit(text[i + 3]) && (i + 4 >= text.size() || !is_digit(text[i + 4]))) {
        ++i;  // a thousands separator: three digits follow, then no digit
      } else if (c == '.' && !decimal && i + 1 < text.size() && is_digit(text[i + 1])) {
        decimal = true;
        figure += c;
        ++i;
      } else {
        break;
      }
    }
    out.push_back(std::move(figure));
  }
  return out;
}

// "12500.00" and "12500" state the same figure; "12500.50" does not.
std::string without_zero_decimals(std::string figure) {
  auto dot = figure.find('.');
  if (dot == std::string::npos) return figure;
  while (figure.size() > dot + 1 && figure.back() == '0') figure.pop_back();
  if (figure.back() == '.') figure.pop_back();
  return figure;
}

}  // namespace

std::vector<std::string> unsupported_figures(std::string_view text, std::string_view evidence) {
  std::set<std::string> known;
  for (auto& f : figures_of(evidence)) known.insert(without_zero_decimals(std::move(f)));
  std::vector<std::string> out;
  for (auto& f : figures_of(text))
    if (!known.count(without_zero_decimals(f))) out.push_back(std::move(f));
  return out;
}

bool states_any(std::string_view text, const std::vector<std::string>& terms) {
  std::set<std::string> figures;
  for (auto& f : figures_of(text)) figures.insert(without_zero_decimals(std::move(f)));
  auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  for (const auto& term : terms) {
    if (!term.empty() && is_digit(term[0])) {
      for (auto& f : figures_of(term))
        if (figures.count(without_zero_decimals(std::move(f)))) return true;
      continue;
    }
    for (size_t at = text.find(term); !term.empty() && at != std::string_view::npos; at = text.find(term, at + 1)) {
      const bool starts = at == 0 || !word_char(text[at - 1]);
      const bool ends = at + term.size() == text.size() || !word_char(text[at + term.size()]);
      if (starts && ends) return true;
    }
  }
  return false;
}

AnswerComposer::~AnswerComposer() = default;

Result<std::unique_ptr<AnswerComposer>> AnswerComposer::open(std::string model_id, const std::string& path,
                                                            ComposerOptions options) {
  std::unique_ptr<AnswerComposer> c(new AnswerComposer());
  c->model_id_ = std::move(model_id);
  c->options_ = options;
  c->file_ = std::filesystem::path(path).filename().string();
  KEEL_ASSIGN_OR_RETURN(Sha256Digest digest, sha256_file(path));
  c->sha256_ = to_hex(digest);
  KEEL_ASSIGN_OR_RETURN(c->model_, engine::Model::load(path));
  engine::ContextOptions context;
  context.n_ctx = options.n_ctx;
  context.n_threads = options.threads;
  KEEL_ASSIGN_OR_RETURN(c->context_, engine::Context::create(*c->model_, context));
  return c;
}

Result<Composition> AnswerComposer::compose(std::string_view question, const std::vector<std::string>& sources) {
  std::lock_guard lock(mutex_);  // one context, and the tokenizer's caches: one answer at a time
  const int64_t start = monotonic_now_ns();
  auto kind = engine::chat_template_of(model_->file());
  engine::ChatTemplate t = kind.ok() ? *kind : engine::ChatTemplate::raw;
  std::string user = "Sources:\n";
  for (size_t i = 0; i < sources.size(); ++i) user += fmt::format("[{}] {}\n", i + 1, sources[i]);
  user += fmt::format("\nQuestion: {}", question);
  std::string prompt = t == engine::ChatTemplate::raw
                           ? fmt::format("{}\n\n{}\nAnswer:", kInstructions, user)
                           : engine::format_chat(t, {{"system", kInstructions}, {"user", user}});
  auto tokens = model_->tokenizer().encode(prompt, true, /*parse_special=*/t != engine::ChatTemplate::raw);
  if (static_cast<int64_t>(tokens.size()) + options_.max_tokens > options_.n_ctx)
    return Status::resource_exhausted(fmt::format(
        "the evidence does not fit the model's context ({} prompt tokens, {} for the answer, context {})",
        tokens.size(), options_.max_tokens, options_.n_ctx));
  KEEL_ASSIGN_OR_RETURN(int32_t seq, context_->add_sequence());
  engine::GenerateOptions g;
  g.max_tokens = options_.max_tokens;
  g.sampling.temperature = 0;
  if (!engine::end_of_turn(t).empty()) g.stop.push_back(std::string(engine::end_of_turn(t)));
  g.stop.push_back("\nQuestion:");
  auto result = engine::generate(*context_, seq, tokens, g);
  context_->remove_sequence(seq);
  if (!result.ok()) return result.status();
  Composition out;
  out.text = result->text;
  while (!out.text.empty() && std::isspace(static_cast<unsigned char>(out.text.back()))) out.text.pop_back();
  while (!out.text.empty() && std::isspace(static_cast<unsigned char>(out.text.front()))) out.text.erase(0, 1);
  out.prompt_tokens = result->timings.prompt_tokens;
  out.completion_tokens = result->timings.generated_tokens;
  out.ms = static_cast<double>(monotonic_now_ns() - start) / 1e6;
  return out;
}

}  // namespace keel::rag
