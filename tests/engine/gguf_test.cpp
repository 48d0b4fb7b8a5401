#include "engine/gguf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "engine/gguf_writer.h"
#include "support/test_support.h"

namespace keel::engine {
namespace {

GgufWriter sample_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.5f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_i32("some.negative", -7);
  w.set_u64("big.count", 1ull << 40);
  w.set_strings("tokenizer.ggml.tokens", {"<unk>", "a", "b\xe2\x96\x81"});
  w.set_f32s("tokenizer.ggml.scores", {0.0f, -1.5f, -2.0f});
  w.set_i32s("tokenizer.ggml.token_type", {2, 1, 1});
  std::vector<float> m(64 * 3);
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(i);
  EXPECT_TRUE(w.add_f32("matrix", {64, 3}, m).ok());
  std::vector<float> v(5, 1.0f);
  EXPECT_TRUE(w.add_f32("vector", {5}, v).ok());
  std::vector<uint8_t> q(34 * 2, 0);
  EXPECT_TRUE(w.add_tensor("quantized", {64}, TensorType::q8_0, q).ok());
  return w;
}

TEST(Gguf, WriterOutputReadsBack) {
  std::vector<uint8_t> bytes = sample_writer().serialize();
  auto file = GgufFile::parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  EXPECT_EQ(*f.get_uint("llama.block_count"), 2u);
  EXPECT_FLOAT_EQ(static_cast<float>(*f.get_float("llama.rope.freq_base")), 10000.5f);
  EXPECT_TRUE(*f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(*f.find("some.negative")->as_int(), -7);
  EXPECT_FALSE(f.find("some.negative")->as_uint().has_value());
  EXPECT_EQ(*f.get_uint("big.count"), 1ull << 40);
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens && tokens->is_array());
  ASSERT_EQ(tokens->strings().size(), 3u);
  EXPECT_EQ(tokens->strings()[2], "b\xe2\x96\x81");
  EXPECT_EQ((*f.find("tokenizer.ggml.scores")->floats())[1], -1.5);
  EXPECT_EQ((*f.find("tokenizer.ggml.token_type")->ints())[0], 2);

  const GgufTensor* m = f.tensor("matrix");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->dims, (std::vector<uint64_t>{64, 3}));
  EXPECT_EQ(m->rows(), 3u);
  EXPECT_EQ(m->n_bytes, 64u * 3 * 4);
  float value;
  std::memcpy(&value, m->data + 4 * 70, 4);
  EXPECT_EQ(value, 70.0f);
  EXPECT_EQ(f.tensor("quantized")->n_bytes, 68u);
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  EXPECT_EQ(f.tensor("nope"), nullptr);
}

TEST(Gguf, TypedLookupsNameTheKey) {
  std::vector<uint8_t> bytes = sample_writer().serialize();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok());
  auto missing = (*f)->get_uint("llama.context_length");
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);
  EXPECT_NE(missing.status().message().find("llama.context_length"), std::string::npos);
  auto wrong = (*f)->get_uint("general.architecture");
  EXPECT_EQ(wrong.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(wrong.status().message().find("is string"), std::string::npos);
  EXPECT_EQ(*(*f)->get_uint_or("llama.context_length", 2048), 2048u);
}

TEST(Gguf, EveryTruncationIsAnErrorNotACrash) {
  std::vector<uint8_t> bytes = sample_writer().serialize();
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    auto f = GgufFile::parse(cut);
    // The last tensor's padding may be cut without losing data; anything shorter must fail.
    if (len < bytes.size() - 32) {
      EXPECT_FALSE(f.ok()) << "accepted a file cut at " << len;
      // Under 4 bytes there is no magic to say it is GGUF; past it, the header promised more.
      if (len >= 4) {
        EXPECT_EQ(f.status().code(), StatusCode::data_loss) << "cut at " << len << ": "
                                                            << f.status().to_string();
      }
    }
  }
}

TEST(Gguf, CorruptionsAreNamed) {
  std::vector<uint8_t> good = sample_writer().serialize();
  auto expect_error = [](std::vector<uint8_t> bytes, const std::string& needle) {
    auto f = GgufFile::parse(bytes);
    ASSERT_FALSE(f.ok()) << needle;
    EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().message();
  };
  auto bytes = good;
  bytes[0] = 'X';
  expect_error(bytes, "not a GGUF file");
  bytes = good;
  bytes[4] = 1;
  expect_error(bytes, "version 1");
  bytes = good;
  bytes[4] = 9;
  expect_error(bytes, "unsupported GGUF version 9");

  // An absurd string length in the first key.
  bytes = good;
  uint64_t huge = ~0ull;
  std::memcpy(bytes.data() + 24, &huge, 8);
  expect_error(bytes, "exceeds the file");

  // Find the "matrix" tensor info and corrupt its type, dims and offset.
  auto find = [&](const std::string& s) {
    auto it = std::search(good.begin(), good.end(), s.begin(), s.end());
    return static_cast<size_t>(it - good.begin());
  };
  size_t info = find("matrix") + 6;  // after the name: n_dims u32, dims, type u32, offset u64
  bytes = good;
  uint32_t bad_type = 99;
  std::memcpy(bytes.data() + info + 4 + 16, &bad_type, 4);
  expect_error(bytes, "tensor 'matrix' has unknown or unsupported type id 99");
  bytes = good;
  uint64_t bad_dim = 1ull << 50;
  std::memcpy(bytes.data() + info + 4, &bad_dim, 8);
  expect_error(bytes, "tensor 'matrix' has an absurd dimension");
  bytes = good;
  uint64_t far_offset = 1 << 20;
  std::memcpy(bytes.data() + info + 4 + 16 + 4, &far_offset, 8);
  expect_error(bytes, "tensor 'matrix': data");
  bytes = good;
  uint32_t dims = 7;
  std::memcpy(bytes.data() + info, &dims, 4);
  expect_error(bytes, "tensor 'matrix' has 7 dimensions");

  // Make "vector" start inside "matrix".
  size_t vinfo = find("vector") + 6;
  bytes = good;
  uint64_t overlap = 32;
  std::memcpy(bytes.data() + vinfo + 4 + 8 + 4, &overlap, 8);
  expect_error(bytes, "overlap");

  // Q8_0 row length not a multiple of 32.
  size_t qinfo = find("quantized") + 9;
  bytes = good;
  uint64_t odd = 33;
  std::memcpy(bytes.data() + qinfo + 4, &odd, 8);
  expect_error(bytes, "not a multiple of the Q8_0 block size");
}

TEST(Gguf, RandomByteFlipsNeverCrash) {
  std::vector<uint8_t> good = sample_writer().serialize();
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    auto bytes = good;
    int flips = 1 + rng() % 4;
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto f = GgufFile::parse(bytes);
    accepted += f.ok();
  }
  EXPECT_GT(accepted, 0);  // flips in tensor data are harmless; the rest must just not crash
}

TEST(Gguf, OpenReadsFilesAndReportsMissingOnes) {
  testing::TempDir dir;
  ASSERT_TRUE(sample_writer().write(dir.file("m.gguf")).ok());
  auto f = GgufFile::open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->tensors().size(), 3u);
  EXPECT_EQ(GgufFile::open(dir.file("none.gguf")).status().code(), StatusCode::not_found);
}

TEST(Gguf, ReadsLlamaCppFiles) {
  auto fixtures = testing::fixtures_dir();
  if (!fixtures) KEEL_SKIP_OUTSIDE_CI("shared fixtures (../shared/fixtures or $KEEL_FIXTURES) are not on this machine");
  for (const char* name : {"stories260K.gguf", "small-random-288x6-Q8_0.gguf",
                           "random-gqa-256x4-Q4_K_M.gguf", "random-qwen2-64x3-Q8_0.gguf",
                           "vocab/ggml-vocab-bert-bge.gguf"}) {
    auto f = GgufFile::open(*fixtures + "/" + name);
    ASSERT_TRUE(f.ok()) << name << ": " << f.status().to_string();
    EXPECT_TRUE((*f)->find("general.architecture")) << name;
  }
}

TEST(GgufWriter, RefusesInconsistentTensors) {
  GgufWriter w;
  std::vector<uint8_t> bytes(10);
  EXPECT_FALSE(w.add_tensor("t", {64}, TensorType::q8_0, bytes).ok());
  EXPECT_FALSE(w.add_tensor("t", {31}, TensorType::q8_0, bytes).ok());
  EXPECT_FALSE(w.add_tensor(std::string(65, 'x'), {1}, TensorType::f32, std::vector<uint8_t>(4)).ok());
  EXPECT_TRUE(w.add_tensor("t", {1}, TensorType::f32, std::vector<uint8_t>(4)).ok());
  EXPECT_EQ(w.add_tensor("t", {1}, TensorType::f32, std::vector<uint8_t>(4)).code(),
            StatusCode::already_exists);
}

}  // namespace
}  // namespace keel::engine
