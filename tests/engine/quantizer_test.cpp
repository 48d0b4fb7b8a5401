// Quantizing a whole model: the scheme's type per tensor, and greedy choices that survive it.
#include <gtest/gtest.h>

#include <string>

#include "engine/context.h"
#include "engine/generator.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/quantizer.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

TEST(Quantize, WholeModelFollowsTheSchemeAndStaysClose) {
  TempDir dir;
  testing::TinyModelSpec spec;
  spec.n_embd = 256;
  spec.n_head = 4;
  spec.n_head_kv = 2;
  spec.n_ff = 512;
  spec.n_layer = 8;
  spec.output_scale = 6;
  testing::write_tiny_model(spec, dir.file("f32.gguf"));
  for (const char* scheme : {"Q8_0", "Q4_0", "Q4_K_M", "F16"}) {
    std::string out = dir.file(std::string(scheme) + ".gguf");
    auto report = quantize_model(dir.file("f32.gguf"), out, scheme, 2);
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    EXPECT_LT(report->bytes_out, report->bytes_in);
    auto f = GgufFile::open(out);
    ASSERT_TRUE(f.ok());
    const std::string s = scheme;
    if (s == "Q4_K_M") {
      EXPECT_EQ(f.value()->tensor("output.weight")->type, TensorType::q6_k);
      EXPECT_EQ(f.value()->tensor("blk.0.attn_v.weight")->type, TensorType::q6_k);   // first eighth
      EXPECT_EQ(f.value()->tensor("blk.1.attn_v.weight")->type, TensorType::q4_k);
      EXPECT_EQ(f.value()->tensor("blk.3.ffn_down.weight")->type, TensorType::q6_k);  // (3-1)%3==2
      EXPECT_EQ(f.value()->tensor("blk.7.ffn_down.weight")->type, TensorType::q6_k);  // last eighth
      EXPECT_EQ(f.value()->tensor("blk.2.attn_q.weight")->type, TensorType::q4_k);
      EXPECT_EQ(*f.value()->get_uint("general.file_type"), 15u);
    }
    EXPECT_EQ(f.value()->tensor("blk.0.attn_norm.weight")->type, TensorType::f32);
  }
  // Greedy choices survive 8-bit and 4-bit quantization of a confident model.
  auto first_tokens = [&](const std::string& file) {
    auto model = Model::load(file);
    EXPECT_TRUE(model.ok());
    auto context = Context::create(**model, {});
    auto seq = (*context)->add_sequence();
    GenerateOptions g;
    g.max_tokens = 4;
    g.sampling.temperature = 0;
    g.ignore_eos = true;
    return generate(**context, *seq, (*model)->tokenizer().encode("the cat", true, false), g)->tokens;
  };
  auto reference = first_tokens(dir.file("f32.gguf"));
  EXPECT_EQ(first_tokens(dir.file("F16.gguf")), reference);
  EXPECT_EQ(first_tokens(dir.file("Q8_0.gguf")), reference);
  EXPECT_FALSE(quantize_model(dir.file("f32.gguf"), dir.file("x.gguf"), "Q3_XL", 1).ok());
  EXPECT_FALSE(quantize_model(dir.file("f32.gguf"), dir.file("f32.gguf"), "Q8_0", 1).ok());
}

}  // namespace
}  // namespace keel::engine
