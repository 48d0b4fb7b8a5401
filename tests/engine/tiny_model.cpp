#include "tiny_model.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

#include "engine/gguf_writer.h"
#include "engine/quants.h"

namespace keel::engine::testing {

namespace {

std::vector<std::string> spm_tokens() {
  std::vector<std::string> t = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    t.push_back(name);
  }
  const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  const std::vector<std::string> words = {
      sp, sp + "the", sp + "a", sp + "cat", sp + "sat", sp + "on", sp + "mat", sp + "dog", "e", "t",
      "a", "o", "n", "s", "h", "r", "d", "l", "c", "m", sp + "t", "he", "at", sp + "s", sp + "c",
      sp + "m", sp + "d", "og", sp + "o", "on", ".", ",", sp + "Hello", sp + "world"};
  for (const auto& w : words) t.push_back(w);
  return t;
}

std::vector<std::string> wpm_tokens() {
  std::vector<std::string> t = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (char c = 'a'; c <= 'z'; ++c) {
    t.push_back(std::string("\xE2\x96\x81") + c);
    t.push_back(std::string(1, c));
  }
  for (const char* w : {"the", "cat", "sat", "on", "mat", "dog", "hello", "world", "quick",
                        "brown", "fox", "jumps", "over", "lazy"}) {
    t.push_back(std::string("\xE2\x96\x81") + w);
  }
  t.push_back("\xE2\x96\x81.");
  t.push_back("\xE2\x96\x81,");
  return t;
}

}  // namespace

int64_t write_tiny_model(const TinyModelSpec& s, const std::string& path) {
  std::mt19937 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const bool bert = s.arch == "bert";
  const bool qwen2 = s.arch == "qwen2";
  std::vector<std::string> tokens = bert ? wpm_tokens() : spm_tokens();
  const int64_t n_vocab = static_cast<int64_t>(tokens.size());
  const int64_t head_dim = s.n_embd / s.n_head;
  const int64_t kv_dim = s.n_head_kv * head_dim;

  GgufWriter w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "keel-test-" + s.arch);
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  if (bert) {
    w.set_f32(a + "attention.layer_norm_epsilon", 1e-12f);
    w.set_u32(a + "pooling_type", 1);
    w.set_bool(a + "attention.causal", false);
    w.set_u32("tokenizer.ggml.token_type_count", 2);
    w.set_string("tokenizer.ggml.model", "bert");
    w.set_u32("tokenizer.ggml.unknown_token_id", 1);
    w.set_u32("tokenizer.ggml.bos_token_id", 2);
    w.set_u32("tokenizer.ggml.seperator_token_id", 3);
    w.set_u32("tokenizer.ggml.padding_token_id", 0);
    std::vector<int32_t> types(n_vocab, 1);
    for (int i = 0; i < 5; ++i) types[i] = 3;
    w.set_i32s("tokenizer.ggml.token_type", types);
  } else {
    w.set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_norm_eps);
    w.set_f32(a + "rope.freq_base", qwen2 ? 1000000.0f : 10000.0f);
    w.set_string("tokenizer.ggml.model", "llama");
    std::vector<float> scores(n_vocab, 0.0f);
    std::vector<int32_t> types(n_vocab, 1);
    types[0] = 2, types[1] = 3, types[2] = 3;
    for (int b = 0; b < 256; ++b) types[3 + b] = 6;
    for (int64_t i = 259; i < n_vocab; ++i) scores[i] = -static_cast<float>(i - 259) / 10.0f;
    w.set_f32s("tokenizer.ggml.scores", scores);
    w.set_i32s("tokenizer.ggml.token_type", types);
  }
  w.set_strings("tokenizer.ggml.tokens", tokens);

  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, float scale, TensorType type) {
    std::vector<float> values(cols * rows);
    for (auto& v : values) v = normal(rng) * scale;
    size_t rb = *row_bytes(type, cols);
    std::vector<uint8_t> bytes(rb * rows);
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(quantize_row(type, values.data() + r * cols, bytes.data() + r * rb, cols));
    }
    ASSERT_TRUE(w.add_tensor(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, type, bytes).ok())
        << name;
  };
  auto vector = [&](const std::string& name, int64_t n, float base, float spread) {
    std::vector<float> values(n);
    for (auto& v : values) v = base + normal(rng) * spread;
    ASSERT_TRUE(w.add_f32(name, {static_cast<uint64_t>(n)}, values).ok()) << name;
  };
  const TensorType t = s.weight_type;
  matrix("token_embd.weight", s.n_embd, n_vocab, 0.5f, t);
  if (bert) {
    matrix("position_embd.weight", s.n_embd, s.n_ctx, 0.1f, TensorType::f32);
    matrix("token_types.weight", s.n_embd, 2, 0.1f, TensorType::f32);
    vector("token_embd_norm.weight", s.n_embd, 1.0f, 0.1f);
    vector("token_embd_norm.bias", s.n_embd, 0.0f, 0.1f);
  } else {
    vector("output_norm.weight", s.n_embd, 1.0f, 0.1f);
    if (!s.tied_output) matrix("output.weight", s.n_embd, n_vocab, 0.3f * s.output_scale, t);
    if (s.rope_freqs) {
      std::vector<float> factors(head_dim / 2);
      for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + i % 3;
      EXPECT_TRUE(w.add_f32("rope_freqs.weight", {factors.size()}, factors).ok());
    }
  }
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    matrix(p + "attn_q.weight", s.n_embd, s.n_embd, s.weight_scale, t);
    matrix(p + "attn_k.weight", s.n_embd, kv_dim, s.weight_scale, t);
    matrix(p + "attn_v.weight", s.n_embd, kv_dim, s.weight_scale, t);
    matrix(p + "attn_output.weight", s.n_embd, s.n_embd, s.weight_scale, t);
    if (bert) {
      for (const char* b : {"attn_q.bias", "attn_output.bias", "ffn_down.bias"}) vector(p + b, s.n_embd, 0, 0.05f);
      vector(p + "attn_k.bias", kv_dim, 0, 0.05f);
      vector(p + "attn_v.bias", kv_dim, 0, 0.05f);
      vector(p + "attn_output_norm.weight", s.n_embd, 1.0f, 0.1f);
      vector(p + "attn_output_norm.bias", s.n_embd, 0.0f, 0.1f);
      matrix(p + "ffn_up.weight", s.n_embd, s.n_ff, s.weight_scale, t);
      vector(p + "ffn_up.bias", s.n_ff, 0, 0.05f);
      matrix(p + "ffn_down.weight", s.n_ff, s.n_embd, s.weight_scale, t);
      vector(p + "layer_output_norm.weight", s.n_embd, 1.0f, 0.1f);
      vector(p + "layer_output_norm.bias", s.n_embd, 0.0f, 0.1f);
    } else {
      vector(p + "attn_norm.weight", s.n_embd, 1.0f, 0.1f);
      vector(p + "ffn_norm.weight", s.n_embd, 1.0f, 0.1f);
      if (qwen2) {
        vector(p + "attn_q.bias", s.n_embd, 0, 0.1f);
        vector(p + "attn_k.bias", kv_dim, 0, 0.1f);
        vector(p + "attn_v.bias", kv_dim, 0, 0.1f);
      }
      matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff, s.weight_scale, t);
      matrix(p + "ffn_up.weight", s.n_embd, s.n_ff, s.weight_scale, t);
      matrix(p + "ffn_down.weight", s.n_ff, s.n_embd, s.weight_scale, t);
    }
  }
  Status written = w.write(path);
  EXPECT_TRUE(written.ok()) << written.to_string();
  return n_vocab;
}

std::unique_ptr<Model> write_and_load_tiny_model(const TinyModelSpec& spec, const std::string& path) {
  write_tiny_model(spec, path);
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(*m) : nullptr;
}

}  // namespace keel::engine::testing
