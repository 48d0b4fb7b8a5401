// Extractive answers: the passage of the retrieved documents that best answers a question,
// quoted verbatim sentence by sentence with citations. The assistant answers this way when its
// generator is below the quality floor measured by `keel eval` (a tiny demo model), or when
// asked to: a person gets the documents' own words instead of a fluent guess.
//
// Contract:
// - Pure functions over the passages handed in: no I/O, no model. Term weights come from the
//   caller (the store's document frequencies), so rare words count more than common ones.
// - A sentence is a byte range of the document's extracted text inside one passage (never across
//   passages); its quote is those bytes, so the citation checker can verify it.
// - The answer is the best window of up to max_window_sentences consecutive sentences of one
//   passage: the window covering the largest weighted share of the question's terms (a term in
//   the section heading above it counts half). A window whose last sentence announces a list
//   (ends in ':') brings the items that follow, from the next passage of the document if need be.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context/retriever.h"

namespace keel::assistant {

struct SentenceSpan {
  uint64_t start = 0, end = 0;  //!< offsets into the text handed to split_sentences
  bool heading = false;         //!< a Markdown heading line
  bool list_item = false;       //!< starts a list item ("- ", "1. ") or a table row ("|")
};

//! Sentences of a passage: ends at . ? ! followed by white space and a capital, digit or
//! markup, at blank lines and at Markdown list items, table rows and headings. Leading list
//! markers and white space are left out of each span.
std::vector<SentenceSpan> split_sentences(std::string_view text);

//! A word reduced to a crude stem (lower case; plural and -ing/-ed endings dropped), so that
//! "citations" matches "citation" and "checks" matches "checked".
std::string stem_term(std::string_view word);

//! The stems of a text's words.
std::vector<std::string> stems_of(std::string_view text);

//! Words of the question as written that name something (a code like K008 or Q4_K_M, an
//! acronym like TCP, a capitalised name like Linux after the first word), in lower case.
std::vector<std::string> identifier_terms(std::string_view question);

//! True for a question that asks for a person ("Who wrote ...?").
bool asks_for_person(std::string_view question);
//! True when the text names a person: two capitalised words in a row ("Stephen Bourne"), neither
//! of them a word of the question.
bool names_person(std::string_view text, std::string_view question);

struct WeightedTerm {
  std::string stem;
  double weight = 0;  //!< the term's idf; unknown terms weigh the most
};

struct ExtractedSentence {
  int source = 0;               //!< 1-based index of the passage it comes from
  uint64_t start = 0, end = 0;  //!< document byte range
  std::string text;
};

struct ExtractedAnswer {
  std::vector<ExtractedSentence> sentences;  //!< in document order
  double coverage = 0;  //!< weighted share of the question's terms the window covers (0..1)
};

struct ExtractOptions {
  //! When the question asks for a person (asks_for_person), only windows naming one may answer.
  bool needs_person = false;
  std::string question;  //!< for needs_person: the names the question itself uses do not count
  int max_window_sentences = 5;
  size_t max_window_bytes = 800;
  double heading_weight = 0.5;
  int max_list_items = 4;
};

//! The passage that follows `source` in its document, appended to the passages when it is not
//! among them; returns its 1-based index, or nullopt at the end of the document.
using FollowingPassage = std::function<std::optional<int>(int source)>;

//! The best window (empty sentences when no passage may answer). may_answer[i] false leaves
//! passage i out (empty: all may). `passages` may grow by the passages `following` appends.
ExtractedAnswer extract_answer(const std::vector<WeightedTerm>& terms, const std::vector<context::RetrievedChunk>& passages,
                               const std::vector<bool>& may_answer, const FollowingPassage& following,
                               const ExtractOptions& options = {});

//! The answer text shown to the user: labelled as extracted, each sentence quoted with its [n].
std::string format_extracted_answer(const std::vector<ExtractedSentence>& sentences);

}  // namespace keel::assistant
