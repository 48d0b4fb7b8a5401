// Extractive answers on passages written here: sentence splitting over Markdown, HTML-like and
// PDF-like text, the window that covers the question, lists announced by a colon (read on into
// the next passage), names the question needs, and people for "who" questions.
#include "assistant/extractive_answer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace keel::assistant {
namespace {

std::vector<std::string> texts(std::string_view text, const std::vector<SentenceSpan>& spans) {
  std::vector<std::string> out;
  for (const auto& s : spans) out.emplace_back(text.substr(s.start, s.end - s.start));
  return out;
}

TEST(SplitSentences, MarkdownSentencesListsTablesAndHeadings) {
  std::string text =
      "# Title line\n\nFirst sentence here. Second one, e.g. with an abbreviation, goes on\nover a line break!\n"
      "\n- item one;\n- item two\n\n| code | meaning |\n| 2 | failed |\n\nA PDF total of 128 + 64\n+ 16 = 210 bytes.";
  auto spans = split_sentences(text);
  EXPECT_EQ(texts(text, spans),
            (std::vector<std::string>{"Title line", "First sentence here.",
                                      "Second one, e.g. with an abbreviation, goes on\nover a line break!", "item one;",
                                      "item two", "| code | meaning |", "| 2 | failed |",
                                      "A PDF total of 128 + 64\n+ 16 = 210 bytes."}));
  ASSERT_EQ(spans.size(), 8u);
  EXPECT_TRUE(spans[0].heading);
  EXPECT_FALSE(spans[1].heading);
  EXPECT_TRUE(spans[3].list_item && spans[4].list_item && spans[6].list_item);
  EXPECT_FALSE(spans[7].list_item) << "a wrapped '+ 16' is not a list item";
}

TEST(SplitSentences, TitlesWithoutMarkupAreHeadings) {
  // HTML and plain text put titles alone on a line; PDFs put them right above the text.
  std::string text = "Why it exists\n\nIn 1986 the Internet collapsed.\nMixed files: Q4_K_M\nA file mixes types.";
  auto spans = split_sentences(text);
  ASSERT_EQ(texts(text, spans), (std::vector<std::string>{"Why it exists", "In 1986 the Internet collapsed.",
                                                          "Mixed files: Q4_K_M", "A file mixes types."}));
  EXPECT_TRUE(spans[0].heading);
  EXPECT_FALSE(spans[1].heading);
  EXPECT_TRUE(spans[2].heading);
}

TEST(StemTerm, FoldsCommonEndings) {
  EXPECT_EQ(stem_term("Citations"), stem_term("citation"));
  EXPECT_EQ(stem_term("checks"), stem_term("checked"));
  EXPECT_EQ(stem_term("queries"), "query");
  EXPECT_EQ(stem_term("class"), "class");
  EXPECT_EQ(stem_term("is"), "is");
}

TEST(IdentifierTerms, CodesAcronymsAndNamesButNotTheFirstWord) {
  EXPECT_EQ(identifier_terms("Which TCP congestion algorithm does Linux use for Q4_K_M and K008?"),
            (std::vector<std::string>{"tcp", "linux", "q4_k_m", "k008"}));
  EXPECT_TRUE(identifier_terms("How large is the window?").empty());
}

TEST(PersonNames, WhoQuestionsNeedTwoCapitalisedWordsTheQuestionDoesNotUse) {
  EXPECT_TRUE(asks_for_person("Who wrote the Bourne shell?"));
  EXPECT_FALSE(asks_for_person("What did the shell do?"));
  EXPECT_TRUE(names_person("Stephen Bourne, also at Bell Labs, wrote a new shell.", "Who wrote the shell?"));
  EXPECT_FALSE(names_person("BM25 is a ranking function over the words.", "Who invented BM25?"));
  EXPECT_FALSE(names_person("The Bourne Shell was fast.", "Who wrote the Bourne Shell?"));
  EXPECT_FALSE(names_person("It ended. Then Unix grew.", "Who wrote it?")) << "a full stop breaks a name";
}

context::RetrievedChunk passage(int64_t id, const std::string& doc, uint64_t start, std::string text, int ordinal = 0) {
  context::RetrievedChunk r;
  r.chunk.id = id;
  r.chunk.ordinal = ordinal;
  r.chunk.start = start;
  r.chunk.end = start + text.size();
  r.chunk.text = std::move(text);
  r.document.path = doc;
  return r;
}

std::vector<WeightedTerm> weighted(const std::vector<std::pair<std::string, double>>& terms) {
  std::vector<WeightedTerm> out;
  for (const auto& [t, w] : terms) out.push_back({stem_term(t), w});
  return out;
}

TEST(ExtractAnswer, PicksTheWindowCoveringTheQuestionWithDocumentOffsets) {
  std::vector<context::RetrievedChunk> passages = {
      passage(1, "a.md", 100, "Cats sleep a lot. Dogs bark at night."),
      passage(2, "b.md", 0, "## Block size\n\nA Q8_0 block covers 32 weights. One block takes 34 bytes.")};
  auto answer = extract_answer(weighted({{"bytes", 2.0}, {"q8_0", 3.0}, {"block", 1.0}, {"size", 1.0}}), passages, {},
                               {});
  ASSERT_FALSE(answer.sentences.empty());
  EXPECT_EQ(answer.sentences.front().source, 2);
  std::string all;
  for (const auto& s : answer.sentences) all += s.text + "|";
  EXPECT_EQ(all, "A Q8_0 block covers 32 weights.|One block takes 34 bytes.|");
  EXPECT_EQ(answer.sentences[0].start, passages[1].chunk.text.find("A Q8_0"));
  // Everything but "size", which the heading holds at half weight: (2 + 3 + 1 + 0.5) / 7.
  EXPECT_NEAR(answer.coverage, 6.5 / 7, 0.01);

  // The same passage may not answer: nothing is chosen from it.
  auto excluded = extract_answer(weighted({{"q8_0", 3.0}}), passages, {true, false}, {});
  EXPECT_EQ(excluded.coverage, 0);
}

TEST(ExtractAnswer, ReadsOnIntoTheNextPassageForAnAnnouncedList) {
  std::vector<context::RetrievedChunk> passages = {
      passage(1, "c.md", 0, "A citation is valid only when both of these hold:", 0)};
  std::string next_text = "1. the source was retrieved;\n2. the stored hash matches.\n\n## Later\n\nOther text.";
  int calls = 0;
  FollowingPassage following = [&](int source) -> std::optional<int> {
    ++calls;
    EXPECT_EQ(source, 1);
    passages.push_back(passage(2, "c.md", passages[0].chunk.end + 2, next_text, 1));
    return 2;
  };
  auto answer = extract_answer(weighted({{"citation", 2.0}, {"valid", 2.0}}), passages, {}, following);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(answer.sentences.size(), 3u);
  EXPECT_EQ(answer.sentences[0].text, "A citation is valid only when both of these hold:");
  EXPECT_EQ(answer.sentences[1].text, "the source was retrieved;");
  EXPECT_EQ(answer.sentences[1].source, 2);
  EXPECT_EQ(answer.sentences[2].text, "the stored hash matches.");
  EXPECT_EQ(answer.sentences[1].start, passages[1].chunk.start + 3);
}

TEST(ExtractAnswer, WhoQuestionsNeedAPerson) {
  std::vector<context::RetrievedChunk> passages = {passage(1, "s.txt", 0,
                                                           "The shell reads commands. Stephen Bourne wrote a new "
                                                           "shell in 1979.")};
  ExtractOptions who;
  who.needs_person = true;
  who.question = "Who wrote the shell?";
  auto answer = extract_answer(weighted({{"wrote", 2.0}, {"shell", 1.0}}), passages, {}, {}, who);
  ASSERT_FALSE(answer.sentences.empty());
  EXPECT_NE(answer.sentences.back().text.find("Stephen Bourne"), std::string::npos);
  std::vector<context::RetrievedChunk> nameless = {passage(1, "s.txt", 0, "The shell reads commands.")};
  EXPECT_TRUE(extract_answer(weighted({{"shell", 1.0}}), nameless, {}, {}, who).sentences.empty());
}

TEST(FormatExtractedAnswer, LabelsAndQuotesEachSentenceWithItsSource) {
  std::string text = format_extracted_answer({{2, 0, 10, "One\nline."}, {3, 5, 9, "Two."}});
  EXPECT_EQ(text,
            "Extracted from your documents (quoted as written; no model composed this answer):\n"
            "  \"One line.\" [2]\n  \"Two.\" [3]");
}

}  // namespace
}  // namespace keel::assistant
