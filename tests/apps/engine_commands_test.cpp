// The engine's commands end to end: keel generate, tokenize, embed, quantize, check-model and
// bench, on fixture models and on tiny models written by the engine tests' helper.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::optional<std::string> fixture(const std::string& name) {
  auto dir = testing::fixtures_dir();
  if (!dir) return std::nullopt;
  return *dir + "/" + name;
}

Json json_of(const testing::CommandResult& r) {
  auto j = parse_json(r.out);
  EXPECT_TRUE(j.ok()) << r.out << r.err;
  return j.ok() ? *j : Json();
}

TEST(GenerateCommand, JsonHasIdsTextAndMetrics) {
  auto model = fixture("stories260K.gguf");
  if (!model) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  auto r = testing::run_keel({"generate", "--model", *model, "--prompt", "Once upon a time", "-n",
                              "16", "--temp", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_EQ(j["prompt_tokens"], Json::parse("[1, 403, 407, 261, 378]"));
  EXPECT_EQ(j["tokens"].size(), 16u);
  EXPECT_EQ(j["text"].get<std::string>().substr(0, 20), ", there was a little");
  for (const char* key : {"load_ms", "ttft_ms", "tpot_ms", "prompt_tokens_per_s",
                          "gen_tokens_per_s", "rss_peak_bytes"}) {
    EXPECT_TRUE(j["metrics"].contains(key)) << key;
    EXPECT_GE(j["metrics"][key].get<double>(), 0) << key;
  }
  EXPECT_GT(j["metrics"]["rss_peak_bytes"].get<double>(), 1e6);
  // Plain output streams the text.
  auto plain = testing::run_keel({"generate", "-m", *model, "-p", "Once upon a time", "-n", "8", "--temp", "0"});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.out.substr(0, 10), ", there wa");
}

TEST(GenerateCommand, BadModelsAreClearErrors) {
  testing::TempDir dir;
  testing::write_file(dir.file("truncated.gguf"), std::string("GGUF\x03\x00\x00\x00", 8));
  auto r = testing::run_keel({"generate", "-m", dir.file("truncated.gguf"), "-p", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  r = testing::run_keel({"generate", "-m", dir.file("missing.gguf"), "-p", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not_found"), std::string::npos) << r.err;
}

TEST(TokenizeCommand, WorksOnVocabularyOnlyFiles) {
  auto vocab = fixture("vocab/llama3-bpe.gguf");
  if (!vocab) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  auto r = testing::run_keel({"tokenize", "--model", *vocab, "--json", "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_of(r)["tokens"], Json::parse("[128000, 9906, 1917]"));
  // Special-token text is plain text by default, as in llama.cpp.
  r = testing::run_keel({"tokenize", "--model", *vocab, "--json", "--no-special", "<|eot_id|>"});
  EXPECT_GT(json_of(r)["tokens"].size(), 1u);
  r = testing::run_keel({"tokenize", "--model", *vocab, "--json", "--no-special", "--parse-special", "<|eot_id|>"});
  EXPECT_EQ(json_of(r)["tokens"], Json::parse("[128009]"));
  auto bert = fixture("vocab/ggml-vocab-bert-bge.gguf");
  r = testing::run_keel({"tokenize", "--model", *bert, "--json", "Hello world"});
  EXPECT_EQ(json_of(r)["tokens"], Json::parse("[101, 7592, 2088, 102]"));
}

TEST(QuantizeAndCheckModel, ProduceLoadableFilesAndRecords) {
  auto model = fixture("stories260K.gguf");
  if (!model) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  testing::TempDir dir;
  auto r = testing::run_keel({"quantize", *model, dir.file("q8.gguf"), "Q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("token_embd.weight"), std::string::npos);  // progress per tensor
  r = testing::run_keel({"quantize", *model, dir.file("q4.gguf"), "Q4_0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json q = json_of(r);
  EXPECT_EQ(q["output"], dir.file("q4.gguf"));
  EXPECT_EQ(q["bytes_out"].get<uint64_t>(), std::filesystem::file_size(dir.file("q4.gguf")));
  EXPECT_LT(q["bytes_out"].get<uint64_t>(), q["bytes_in"].get<uint64_t>());
  EXPECT_GT(q["quantized"].get<int>(), 0);
  r = testing::run_keel({"check-model", dir.file("q8.gguf"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_TRUE(j[0]["passed"].get<bool>());
  EXPECT_EQ(j[0]["sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(std::filesystem::exists(dir.file("q8.gguf.keel-check.json")));
  r = testing::run_keel({"quantize", *model, dir.file("x.gguf"), "Q9_9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown quantization"), std::string::npos);
}

TEST(BenchCommand, ReportsSpeedsAndTheBandwidthBound) {
  auto model = fixture("stories260K.gguf");
  if (!model) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  auto r = testing::run_keel({"bench", "-m", *model, "-p", "16", "-n", "8", "--reps", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_GT(j["pp_tokens_per_s"]["median"].get<double>(), 0);
  EXPECT_GT(j["tg_tokens_per_s"]["median"].get<double>(), 0);
  // Speeds are figures, not pass marks (bench/ compares them): here only their relations. The
  // bound is the measured bandwidth over the bytes each token reads.
  const double bandwidth = j["bandwidth_gb_per_s"].get<double>();
  EXPECT_GT(bandwidth, 0);
  EXPECT_GT(j["bytes_per_token"].get<double>(), 0);
  EXPECT_NEAR(j["tg_bound_tokens_per_s"].get<double>(),
              bandwidth * 1e9 / j["bytes_per_token"].get<double>(),
              1e-6 * j["tg_bound_tokens_per_s"].get<double>());
  EXPECT_GT(j["tg_fraction_of_bound"].get<double>(), 0);
  EXPECT_NE(r.err.find("rep 2/2"), std::string::npos);  // progress on stderr
}

TEST(EmbedCommand, RefusesGenerativeModels) {
  auto model = fixture("stories260K.gguf");
  if (!model) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  auto r = testing::run_keel({"embed", "-m", *model, "hello"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("BERT-family"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keel
