#include "assistant/extractive_answer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace keel::assistant {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80 || c == '_'; }

// Length of a list marker, heading marker or quote marker at the start of a line ("- ", "1. ",
// "## ", "> "), 0 when there is none.
size_t line_marker(std::string_view s) {
  size_t i = 0;
  if (s.empty()) return 0;
  if (s[0] == '#') {
    while (i < s.size() && s[i] == '#') ++i;
    return i < s.size() && s[i] == ' ' ? i + 1 : 0;
  }
  // No '+' marker: a wrapped line of "2 + 32" must not start a list item.
  if ((s[0] == '-' || s[0] == '*' || s[0] == '>') && s.size() > 1 && s[1] == ' ') return 2;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i > 0 && i + 1 < s.size() && (s[i] == '.' || s[i] == ')') && s[i + 1] == ' ') return i + 2;
  return 0;
}

constexpr size_t kTitleBytes = 80;
constexpr size_t kPdfTitleBytes = 60;  // shorter than a wrapped line of body text

// A title: one short line that starts with a capital and has no sentence punctuation at its end.
bool is_title(std::string_view line) {
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  if (line.empty() || line.size() > kTitleBytes || line.find('\n') != std::string_view::npos) return false;
  if (!std::isupper(static_cast<unsigned char>(line[0]))) return false;
  char last = line.back();
  return last != '.' && last != ':' && last != ';' && last != ',' && last != '?' && last != '!';
}

// True when a sentence ending in '.', '?' or '!' at `dot` really ends there: white space follows,
// then the end, a line break, or something that starts a sentence (not a lower-case word, which
// is what follows "e.g." and "i.e.").
bool ends_sentence(std::string_view text, size_t dot) {
  if (dot + 1 < text.size() && !is_space(text[dot + 1])) return false;
  if (text[dot] == '.' && dot >= 3) {
    std::string_view before = text.substr(dot - 3, 3);
    if (before == "e.g" || before == "i.e" || before == "etc" || before.substr(1) == "vs") return false;
  }
  size_t j = dot + 1;
  while (j < text.size() && is_space(text[j])) {
    if (text[j] == '\n') return true;
    ++j;
  }
  if (j >= text.size()) return true;
  return !std::islower(static_cast<unsigned char>(text[j]));
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (unsigned char c : text) {
    if (is_word_byte(c)) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (is_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::vector<SentenceSpan> split_sentences(std::string_view text) {
  std::vector<SentenceSpan> out;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    // Start: skip white space, then a line's list or heading marker.
    while (i < n && is_space(text[i])) ++i;
    if (i >= n) break;
    const bool line_start = i == 0 || text[i - 1] == '\n';
    bool heading = false, list_item = false;
    if (line_start) {
      size_t marker = line_marker(text.substr(i));
      heading = text[i] == '#' && marker > 0;
      list_item = (marker > 0 && !heading) || text[i] == '|';
      i += marker;
    }
    const size_t start = i;
    size_t end = n;
    for (size_t j = i; j < n; ++j) {
      char c = text[j];
      if ((c == '.' || c == '?' || c == '!') && ends_sentence(text, j)) {
        end = j + 1;
        break;
      }
      if (c == '\n') {
        // A line break ends a heading, a paragraph (blank line) and a line followed by a list item
        // or a heading; otherwise the sentence goes on over the line break.
        size_t k = j + 1;
        while (k < n && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r')) ++k;
        if (heading || k >= n || text[k] == '\n' || line_marker(text.substr(k)) > 0 || text[k] == '|') {
          end = j;
          // A short first line standing alone without a full stop is a title (HTML and plain-text
          // headings have no '#').
          if (!list_item && is_title(text.substr(start, j - start))) heading = true;
          break;
        }
        // A short title line right above a line that starts a sentence (as PDFs lay out headings).
        if (j - start < kPdfTitleBytes && !list_item && k < n && std::isupper(static_cast<unsigned char>(text[k])) &&
            is_title(text.substr(start, j - start))) {
          end = j;
          heading = true;
          break;
        }
      }
    }
    size_t trimmed = end;
    while (trimmed > start && is_space(text[trimmed - 1])) --trimmed;
    if (trimmed > start) out.push_back({start, trimmed, heading, list_item});
    i = std::max(end, start + 1);
  }
  return out;
}

std::string stem_term(std::string_view word) {
  std::string w;
  for (unsigned char c : word) w += static_cast<char>(std::tolower(c));
  auto ends = [&](std::string_view suffix) { return w.size() > suffix.size() + 2 && w.ends_with(suffix); };
  if (ends("ies")) return w.substr(0, w.size() - 3) + "y";
  if (ends("ing")) return w.substr(0, w.size() - 3);
  if (ends("ed")) return w.substr(0, w.size() - 2);
  if (ends("es") && (w.ends_with("ches") || w.ends_with("shes") || w.ends_with("sses") || w.ends_with("xes"))) {
    return w.substr(0, w.size() - 2);
  }
  if (ends("s") && !w.ends_with("ss") && !w.ends_with("us")) return w.substr(0, w.size() - 1);
  return w;
}

std::vector<std::string> stems_of(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& w : words_of(text)) out.push_back(stem_term(w));
  return out;
}

std::vector<std::string> identifier_terms(std::string_view question) {
  std::vector<std::string> out;
  std::string word;
  bool first = true;
  auto flush = [&] {
    if (word.size() >= 2) {
      bool digit_or_underscore = false, lower = false, upper = false;
      for (unsigned char c : word) {
        digit_or_underscore |= std::isdigit(c) || c == '_';
        lower |= std::islower(c) != 0;
        upper |= std::isupper(c) != 0;
      }
      bool acronym = upper && !lower;
      bool name = !first && std::isupper(static_cast<unsigned char>(word[0]));
      if (digit_or_underscore || acronym || name) {
        std::string lowered;
        for (unsigned char c : word) lowered += static_cast<char>(std::tolower(c));
        out.push_back(std::move(lowered));
      }
    }
    if (!word.empty()) first = false;
    word.clear();
  };
  for (unsigned char c : question) {
    if (is_word_byte(c)) {
      word += static_cast<char>(c);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

bool asks_for_person(std::string_view question) {
  auto words = words_of(question);
  return !words.empty() && (words[0] == "who" || words[0] == "whom" || words[0] == "whose");
}

bool names_person(std::string_view text, std::string_view question) {
  auto asked = words_of(question);
  std::set<std::string> in_question(asked.begin(), asked.end());
  auto capitalised = [&](std::string_view w) {
    if (w.size() < 2 || !std::isupper(static_cast<unsigned char>(w[0]))) return false;
    for (size_t i = 1; i < w.size(); ++i) {
      if (!std::islower(static_cast<unsigned char>(w[i]))) return false;
    }
    std::string lowered;
    for (char c : w) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Words a sentence often starts with are capitalised for that reason, not as names.
    static const std::set<std::string> kSentenceStarts = {
        "a", "an", "the", "then", "this", "that", "these", "those", "it", "its", "in", "on", "at", "when",
        "after", "before", "if", "for", "from", "with", "by", "as", "and", "but", "or", "so", "each", "every"};
    return !in_question.count(lowered) && !kSentenceStarts.count(lowered);
  };
  std::string_view previous;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) {
      if (text[i] != ' ') previous = {};  // punctuation breaks a name
      ++i;
    }
    size_t j = i;
    while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) ++j;
    std::string_view word = text.substr(i, j - i);
    if (!word.empty()) {
      if (capitalised(word) && capitalised(previous)) return true;
      previous = word;
    }
    i = j;
  }
  return false;
}

ExtractedAnswer extract_answer(const std::vector<WeightedTerm>& terms, const std::vector<context::RetrievedChunk>& passages,
                               const std::vector<bool>& may_answer, const FollowingPassage& following,
                               const ExtractOptions& options) {
  ExtractedAnswer answer;
  double total = 0;
  for (const auto& t : terms) total += t.weight;
  if (terms.empty() || total <= 0) return answer;

  struct Sentence {
    SentenceSpan span;
    std::set<std::string> stems;
    int section = -1;  // index of the heading above, within the passage
  };
  auto sentences_of = [](const std::string& text) {
    std::vector<Sentence> out;
    for (const SentenceSpan& span : split_sentences(text)) {
      auto stems = stems_of(std::string_view(text).substr(span.start, span.end - span.start));
      out.push_back({span, std::set<std::string>(stems.begin(), stems.end()), -1});
    }
    int section = -1;
    for (size_t k = 0; k < out.size(); ++k) {
      if (out[k].span.heading) section = static_cast<int>(k);
      out[k].section = section;
    }
    return out;
  };

  struct Best {
    double score = -1, coverage = 0;
    size_t passage = 0, first = 0, count = 0;
  } best;
  const size_t retrieved = passages.size();  // passages appended later are only continuations
  std::vector<std::vector<Sentence>> split(retrieved);
  for (size_t p = 0; p < retrieved; ++p) {
    if (!may_answer.empty() && !may_answer[p]) continue;
    split[p] = sentences_of(passages[p].chunk.text);
    const auto& sentences = split[p];
    for (size_t i = 0; i < sentences.size(); ++i) {
      if (sentences[i].span.heading) continue;  // a heading names a topic; it does not answer
      std::set<std::string> window;
      size_t bytes = 0;
      for (size_t w = 0; w < static_cast<size_t>(options.max_window_sentences) && i + w < sentences.size(); ++w) {
        const Sentence& s = sentences[i + w];
        bytes += s.span.end - s.span.start;
        if (s.span.heading || bytes > options.max_window_bytes) break;
        window.insert(s.stems.begin(), s.stems.end());
        if (options.needs_person) {
          const std::string& text = passages[p].chunk.text;
          const size_t from = sentences[i].span.start;
          if (!names_person(std::string_view(text).substr(from, s.span.end - from), options.question)) continue;
        }
        double covered = 0;
        for (const auto& t : terms) {
          if (window.count(t.stem)) {
            covered += t.weight;
          } else if (sentences[i].section >= 0 && sentences[sentences[i].section].stems.count(t.stem)) {
            covered += options.heading_weight * t.weight;
          }
        }
        const double coverage = covered / total;
        double score = coverage;
        // A window that opens with a question restates what is asked; between equals, the
        // better-ranked passage and the shorter window win.
        if (passages[p].chunk.text[sentences[i].span.end - 1] == '?') score *= 0.5;
        score -= 0.001 * static_cast<double>(p) - 0.0001 * static_cast<double>(w);
        if (score > best.score) best = {score, coverage, p, i, w + 1};
      }
    }
  }
  if (best.score < 0) return answer;

  auto add = [&](size_t p, const SentenceSpan& span) {
    const context::StoredChunk& chunk = passages[p].chunk;
    answer.sentences.push_back({static_cast<int>(p + 1), chunk.start + span.start, chunk.start + span.end,
                                chunk.text.substr(span.start, span.end - span.start)});
  };
  const auto& sentences = split[best.passage];
  for (size_t k = best.first; k < best.first + best.count; ++k) add(best.passage, sentences[k].span);
  answer.coverage = best.coverage;

  // "...in this order of preference:" announces what follows: the next sentences of the same
  // document, from this passage or the one after it, up to a heading or a gap in the text.
  if (answer.sentences.back().text.back() == ':') {
    size_t p = best.passage;
    size_t next = best.first + best.count;
    std::vector<Sentence> continuation;
    const std::vector<Sentence>* in = &sentences;
    if (next >= in->size()) {
      std::optional<int> after = following ? following(static_cast<int>(p + 1)) : std::nullopt;
      if (after) {
        p = static_cast<size_t>(*after - 1);
        continuation = sentences_of(passages[p].chunk.text);
        in = &continuation;
        next = 0;
      }
    }
    uint64_t previous_end = answer.sentences.back().end;
    for (int items = 0; next < in->size() && items < options.max_list_items; ++next, ++items) {
      const SentenceSpan& span = (*in)[next].span;
      const uint64_t start = passages[p].chunk.start + span.start;
      if (span.heading || start < previous_end || start > previous_end + 16) break;
      add(p, span);
      previous_end = answer.sentences.back().end;
    }
  }
  return answer;
}

std::string format_extracted_answer(const std::vector<ExtractedSentence>& sentences) {
  std::string out = "Extracted from your documents (quoted as written; no model composed this answer):";
  for (const auto& s : sentences) out += fmt::format("\n  \"{}\" [{}]", one_line(s.text), s.source);
  return out;
}

}  // namespace keel::assistant
