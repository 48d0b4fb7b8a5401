// The evaluation's ground truth: gold quotes resolved to byte ranges of the extracted text
// (white space folded, exactly one occurrence), and question files that lack them refused.
#include "assistant/evaluation.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace keel::assistant {
namespace {

TEST(FindQuote, FoldsWhiteSpaceAndMapsBackToBytes) {
  std::string text = "Intro.\n\nThe constant `k`\n   is set to 60.  Then more.";
  auto range = find_quote(text, "The constant `k` is set\nto 60.");
  ASSERT_TRUE(range.ok()) << range.status().to_string();
  EXPECT_EQ(text.substr(range->first, range->second - range->first), "The constant `k`\n   is set to 60.");
  EXPECT_EQ(find_quote(text, "set to 61").status().code(), StatusCode::not_found);
  EXPECT_EQ(find_quote("a b a b", "a b").status().code(), StatusCode::invalid_argument) << "ambiguous";
  EXPECT_EQ(find_quote(text, "  \n").status().code(), StatusCode::invalid_argument) << "empty";
}

TEST(LoadQuestions, ResolvesGoldSpansAndRefusesWhatCannotBeJudged) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("docs/sub"));
  testing::write_file(dir.file("docs/sub/a.md"), "# A\n\nThe answer is 42.\nNothing else.\n");
  auto write = [&](const std::string& json) {
    testing::write_file(dir.file("q.json"), json);
    return load_questions(dir.file("q.json"), dir.file("docs"));
  };
  auto ok = write(R"([{"id":"q1","question":"What is it?","answerable":true,"expected_docs":["sub/a.md"],
                      "gold":[{"doc":"sub/a.md","quote":"The answer is 42."}]},
                     {"id":"q2","question":"Who?","answerable":false}])");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  ASSERT_EQ(ok->size(), 2u);
  ASSERT_EQ((*ok)[0].gold.size(), 1u);
  EXPECT_EQ((*ok)[0].gold[0].start, 5u);
  EXPECT_EQ((*ok)[0].gold[0].end, 22u);

  auto no_gold = write(R"([{"id":"q1","question":"What?","answerable":true,"expected_docs":["sub/a.md"]}])");
  EXPECT_NE(no_gold.status().message().find("q1 is answerable but has no gold span"), std::string::npos);
  auto wrong_quote = write(R"([{"id":"q9","question":"What?","answerable":true,"expected_docs":["sub/a.md"],
                               "gold":[{"doc":"sub/a.md","quote":"The answer is 43."}]}])");
  EXPECT_NE(wrong_quote.status().message().find("question q9"), std::string::npos);
  EXPECT_NE(wrong_quote.status().message().find("does not occur"), std::string::npos);
  auto missing_doc = write(R"([{"id":"q3","question":"What?","answerable":true,"expected_docs":["x.md"],
                               "gold":[{"doc":"x.md","quote":"anything"}]}])");
  EXPECT_NE(missing_doc.status().message().find("gold document x.md"), std::string::npos);
  auto bad_type = write(R"([{"id":"q4","question":7,"answerable":true}])");
  EXPECT_EQ(bad_type.status().code(), StatusCode::invalid_argument);
}

}  // namespace
}  // namespace keel::assistant
