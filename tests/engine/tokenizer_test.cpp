// Keel's tokenizers against llama.cpp's test vectors (shared fixtures), plus round trips and
// bad input.
#include "engine/tokenizer.h"

#include <gtest/gtest.h>

#include <sstream>

#include "engine/gguf_writer.h"
#include "core/utf8.h"
#include "engine/unicode.h"
#include "support/test_support.h"

namespace keel::engine {
namespace {

struct VocabCase {
  std::string text;
  std::vector<TokenId> ids;
};

std::vector<VocabCase> read_cases(const std::string& base) {
  std::string inp = testing::read_file(base + ".inp");
  std::string out = testing::read_file(base + ".out");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t start = 0, found;
  while ((found = inp.find(separator, start)) != std::string::npos) {
    texts.push_back(inp.substr(start, found - start));
    start = found + separator.size();
  }
  std::vector<VocabCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const auto& t : texts) {
    std::getline(lines, line);
    VocabCase c{t, {}};
    std::istringstream ids(line);
    TokenId id;
    while (ids >> id) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

class VocabFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabFixture, ReproducesLlamaCppIds) {
  auto fixtures = testing::fixtures_dir();
  if (!fixtures) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  std::string base = *fixtures + "/vocab/" + GetParam();
  auto file = GgufFile::open(base);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto tokenizer = Tokenizer::create(**file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
  auto cases = read_cases(base);
  ASSERT_GE(cases.size(), 40u);
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto ids = (*tokenizer)->encode(cases[i].text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(ids, cases[i].ids) << "case " << i << ": '" << cases[i].text << "'";
    failures += ids != cases[i].ids;
  }
  EXPECT_EQ(failures, 0);
  // Decoding gives the text back wherever the vocabulary covers it.
  if ((*tokenizer)->vocab().type() != VocabType::wpm) {
    for (const auto& c : cases) {
      if (!is_valid_utf8(c.text)) continue;
      auto ids = (*tokenizer)->encode(c.text, false, false);
      std::string back = (*tokenizer)->decode(ids, true, false);
      if ((*tokenizer)->vocab().clean_spaces()) continue;  // clean-up is lossy by design
      EXPECT_EQ(back, c.text) << GetParam();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocabFixture,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                                           "ggml-vocab-gpt-2.gguf", "llama3-bpe.gguf",
                                           "ggml-vocab-deepseek-llm.gguf",
                                           "ggml-vocab-bert-bge.gguf"),
                         [](const auto& param_info) {
                           std::string name = param_info.param.substr(0, param_info.param.find(".gguf"));
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// A tiny SPM vocabulary written here, so this test needs no fixtures.
std::unique_ptr<Tokenizer> tiny_spm() {
  GgufWriter w;
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    scores.push_back(0);
    types.push_back(6);
  }
  for (const char* t : {"\xE2\x96\x81", "h", "e", "l", "o", "\xE2\x96\x81h", "he", "ll", "llo",
                        "\xE2\x96\x81he", "\xE2\x96\x81hello"}) {
    tokens.push_back(t);
    scores.push_back(-static_cast<float>(tokens.size()) / 100 + (std::string(t).size() > 3 ? 1 : 0));
    types.push_back(1);
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  // The tokenizer copies what it needs: the file and its bytes may go once it exists.
  std::vector<uint8_t> bytes = w.serialize();
  auto file = GgufFile::parse(bytes);
  EXPECT_TRUE(file.ok());
  auto t = Tokenizer::create(**file);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return std::move(*t);
}

TEST(Tokenizer, SpmMergesBytesFallbackAndSpecials) {
  auto t = tiny_spm();
  auto ids = t->encode("hello", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);  // BOS
  EXPECT_EQ(t->decode(ids), "hello");
  // A character outside the vocabulary becomes byte tokens and decodes back.
  auto z = t->encode("h\xC3\xA9", false, false);
  EXPECT_EQ(t->decode(z), "h\xC3\xA9");
  // Invalid UTF-8 survives as bytes.
  auto bad = t->encode("\xff\xfe", false, false);
  EXPECT_EQ(t->decode(bad), "\xff\xfe");
  // Special text is plain text unless parse_special.
  auto plain = t->encode("</s>", false, false);
  EXPECT_GT(plain.size(), 1u);
  auto special = t->encode("</s>", false, true);
  EXPECT_EQ(special, (std::vector<TokenId>{2}));
  EXPECT_TRUE(t->is_end_of_generation(2));
  EXPECT_EQ(t->token_to_piece(2), "");
  EXPECT_EQ(t->token_to_piece(2, true), "</s>");
  EXPECT_TRUE(t->encode("", false, false).empty());
}

TEST(Tokenizer, UnknownModelsAndPreTokenizersAreNamedErrors) {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "t5");
  w.set_strings("tokenizer.ggml.tokens", {"a"});
  auto bytes = w.serialize();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok());
  auto t = Tokenizer::create(**f);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("'t5'"), std::string::npos);
  EXPECT_FALSE(pre_tokenizer_regexes("no-such-pre").ok());
  for (const char* pre : {"default", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm"}) {
    auto patterns = pre_tokenizer_regexes(pre);
    ASSERT_TRUE(patterns.ok());
    for (const auto& p : *patterns) EXPECT_TRUE(Regex::compile(p).ok()) << pre << ": " << p;
  }
}

TEST(Regex, SplitsLikeThePreTokenizers) {
  auto split = [](const std::string& pattern, const std::string& text) {
    auto regex = Regex::compile(pattern);
    EXPECT_TRUE(regex.ok()) << regex.status().to_string();
    auto cps = utf8_to_codepoints(text);
    std::vector<std::string> out;
    for (const auto& s : regex_split(cps, {&*regex})) {
      out.push_back(codepoints_to_utf8(cps.data() + s.offset, s.length));
    }
    return out;
  };
  auto llama3 = *pre_tokenizer_regexes("llama-bpe");
  EXPECT_EQ(split(llama3[0], "3333333 3.3"),
            (std::vector<std::string>{"333", "333", "3", " ", "3", ".", "3"}));
  EXPECT_EQ(split(llama3[0], "Hello,  world's\n\n end"),
            (std::vector<std::string>{"Hello", ",", " ", " world", "'s", "\n\n", " end"}));
  auto gpt2 = *pre_tokenizer_regexes("gpt-2");
  EXPECT_EQ(split(gpt2[0], "3333333 3.3"), (std::vector<std::string>{"3333333", " 3", ".", "3"}));
  EXPECT_EQ(split("a{2,3}", "aaaaaaa"), (std::vector<std::string>{"aaa", "aaa", "a"}));
  EXPECT_EQ(split("(?i:ab)", "xAbx"), (std::vector<std::string>{"x", "Ab", "x"}));
  EXPECT_FALSE(Regex::compile("(unclosed").ok());
  EXPECT_FALSE(Regex::compile("[z-a]").ok());
  EXPECT_FALSE(Regex::compile("*x").ok());
  // A long run must not exhaust the stack.
  std::string spaces(200000, ' ');
  EXPECT_EQ(split(gpt2[0], spaces + "x").size(), 2u);
}

}  // namespace
}  // namespace keel::engine
