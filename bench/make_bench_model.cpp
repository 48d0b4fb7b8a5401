// Writes a random-weight Llama model of a benchmark shape with Keel's GGUF writer, for the
// engine-speed benchmark (bench/engine_bench.sh quantizes it with `keel quantize`).
//
//   make_bench_model OUT.gguf [--shape 1b|small] [--type F16|F32]
//
// "1b" is Llama-3.2-1B's shape: n_embd 2048, 16 layers, 32 heads, 8 KV heads, n_ff 8192,
// vocabulary 128,256, tied embeddings. The vocabulary is SentencePiece-style (byte tokens and
// made-up pieces): enough to tokenize any prompt, the ids are what the benchmark needs. Weights
// are uniform noise scaled like a trained model's (about 1/sqrt(n_embd)), so activations stay
// finite through every layer.
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/fp16.h"
#include "engine/gguf_writer.h"
#include "engine/quants.h"

using namespace keel;
using namespace keel::engine;

namespace {

struct Shape {
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
};

// xorshift64*: fast enough for 1.2 billion weights, and every run writes the same file.
struct Noise {
  uint64_t state;
  float next(float scale) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    const uint64_t r = state * 0x2545F4914F6CDD1DULL;
    return (static_cast<float>(r >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f) * scale;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_bench_model OUT.gguf [--shape 1b|small] [--type F16|F32]\n");
    return 1;
  }
  std::string out = argv[1], shape_name = "1b", type_name = "F16";
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--shape") shape_name = argv[i + 1];
    else if (a == "--type") type_name = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 1;
    }
  }
  Shape s{};
  if (shape_name == "1b") s = {2048, 16, 32, 8, 8192, 128256, 4096};
  else if (shape_name == "small") s = {256, 4, 8, 4, 768, 32000, 1024};
  else {
    std::fprintf(stderr, "unknown shape %s (1b | small)\n", shape_name.c_str());
    return 1;
  }
  const TensorType type = type_name == "F32" ? TensorType::f32 : TensorType::f16;
  const int64_t head_dim = s.n_embd / s.n_head, kv_dim = s.n_head_kv * head_dim;

  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", fmt::format("keel-bench-{}-{}", shape_name, type_name));
  w.set_u32("llama.context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32("llama.embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32("llama.block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32("llama.attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_u32("llama.rope.dimension_count", static_cast<uint32_t>(head_dim));
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32("llama.rope.freq_base", 500000.0f);
  w.set_string("tokenizer.ggml.model", "llama");
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(fmt::format("<0x{:02X}>", b));
    types.push_back(6);
  }
  for (int64_t i = static_cast<int64_t>(tokens.size()); i < s.n_vocab; ++i) {
    tokens.push_back(fmt::format("\xE2\x96\x81w{}", i));
    types.push_back(1);
  }
  std::vector<float> scores(s.n_vocab);
  for (int64_t i = 0; i < s.n_vocab; ++i) scores[i] = -static_cast<float>(i) / 1000.0f;
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);

  Noise noise{0x9E3779B97F4A7C15ULL};
  std::vector<std::vector<uint8_t>> storage;  // views below point here until write()
  int64_t written = 0, total = s.n_vocab * s.n_embd +
                              s.n_layer * (2 * s.n_embd * s.n_embd + 2 * s.n_embd * kv_dim + 3 * s.n_embd * s.n_ff);
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows) -> bool {
    const float scale = 1.7f / std::sqrt(static_cast<float>(cols));
    const size_t element = type == TensorType::f32 ? 4 : 2;
    std::vector<uint8_t> bytes(static_cast<size_t>(cols * rows) * element);
    if (type == TensorType::f32) {
      auto* p = reinterpret_cast<float*>(bytes.data());
      for (int64_t i = 0; i < cols * rows; ++i) p[i] = noise.next(scale);
    } else {
      auto* p = reinterpret_cast<uint16_t*>(bytes.data());
      for (int64_t i = 0; i < cols * rows; ++i) p[i] = fp32_to_fp16(noise.next(scale));
    }
    storage.push_back(std::move(bytes));
    written += cols * rows;
    std::fprintf(stderr, "\rmake_bench_model: %3d%% of %.2f billion weights", static_cast<int>(100 * written / total),
                 static_cast<double>(total) / 1e9);
    Status st = w.add_tensor_view(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, type, storage.back());
    if (!st.ok()) std::fprintf(stderr, "\n%s: %s\n", name.c_str(), st.to_string().c_str());
    return st.ok();
  };
  auto ones = [&](const std::string& name, int64_t n) {
    std::vector<float> v(n, 1.0f);
    return w.add_f32(name, {static_cast<uint64_t>(n)}, v).ok();
  };
  bool ok = matrix("token_embd.weight", s.n_embd, s.n_vocab) && ones("output_norm.weight", s.n_embd);
  for (int64_t l = 0; ok && l < s.n_layer; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    ok = ones(p + "attn_norm.weight", s.n_embd) && matrix(p + "attn_q.weight", s.n_embd, s.n_embd) &&
         matrix(p + "attn_k.weight", s.n_embd, kv_dim) && matrix(p + "attn_v.weight", s.n_embd, kv_dim) &&
         matrix(p + "attn_output.weight", s.n_embd, s.n_embd) && ones(p + "ffn_norm.weight", s.n_embd) &&
         matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff) && matrix(p + "ffn_up.weight", s.n_embd, s.n_ff) &&
         matrix(p + "ffn_down.weight", s.n_ff, s.n_embd);
  }
  std::fprintf(stderr, "\n");
  if (!ok) return 1;
  Status st = w.write(out);
  if (!st.ok()) {
    std::fprintf(stderr, "writing %s: %s\n", out.c_str(), st.to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "make_bench_model: wrote %s\n", out.c_str());
  return 0;
}
