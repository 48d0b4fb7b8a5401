// Whole forward passes against an independent float64 reference written in numpy
// (tests/engine/reference_forward.py), on tiny random models this test writes with Keel's GGUF
// writer: llama with GQA, qwen2 with biases, bert; every weight type.
//
// Keel quantizes activations to 8 bits for quantized weights (as llama.cpp does) and keeps the
// KV cache in half precision, the reference does neither, so each weight type has its own
// tolerances, stated below as fractions of the logits' standard deviation: for the RMS error and
// for the largest single error. The argmax must also agree wherever the reference's top two are
// clearly apart.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "core/json.h"
#include "engine/context.h"
#include "engine/model.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

std::string reference_script() { return keel::testing::source_dir() + "/tests/engine/reference_forward.py"; }

Json run_reference(const std::string& model, const std::vector<TokenId>& tokens, bool embed) {
  std::string list;
  for (TokenId t : tokens) list += (list.empty() ? "" : ",") + std::to_string(t);
  std::vector<std::string> argv = {"/usr/bin/python3", reference_script(), model, "--tokens", list};
  if (embed) argv.push_back("--embed");
  auto r = keel::testing::run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r.out);
  EXPECT_TRUE(j.ok()) << r.out.substr(0, 200);
  return j.ok() ? *j : Json();
}

struct Case {
  std::string arch;
  TensorType type;
  double rms_tolerance;  // rms(keel - reference) / std(reference logits)
  double max_tolerance;  // max |keel - reference| / std(reference logits)
};

class ReferenceForward : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceForward, LogitsAgreeWithinTheTypeTolerance) {
  ASSERT_TRUE(keel::testing::have_program("python3"));
  const Case& c = GetParam();
  TempDir dir;
  testing::TinyModelSpec spec;
  spec.arch = c.arch;
  spec.n_embd = 256;
  spec.n_head = 4;
  spec.n_head_kv = c.arch == "qwen2" ? 1 : 2;
  spec.n_ff = 512;
  spec.weight_type = c.type;
  spec.rope_freqs = c.arch == "llama" && c.type == TensorType::f32;
  spec.tied_output = c.arch == "llama" && c.type == TensorType::q8_0;
  testing::write_tiny_model(spec, dir.file("m.gguf"));
  auto model = Model::load(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  std::vector<TokenId> tokens = (*model)->tokenizer().encode("the cat sat on the mat. Hello world", true, false);
  ASSERT_GE(tokens.size(), 8u);
  ContextOptions options;
  options.max_outputs = static_cast<int64_t>(tokens.size());
  auto context = Context::create(**model, options);
  ASSERT_TRUE(context.ok());
  auto seq = (*context)->add_sequence();
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], *seq, static_cast<int64_t>(i), true});
  ASSERT_TRUE((*context)->decode(batch).ok());

  Json ref = run_reference(dir.file("m.gguf"), tokens, false);
  ASSERT_EQ(ref["logits"].size(), tokens.size());
  double worst = 0, err2 = 0, sum = 0, sum2 = 0;
  size_t count = 0;
  std::vector<std::pair<size_t, size_t>> argmax;  // (reference, keel) per clear position
  std::vector<double> margins;
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto mine = (*context)->logits(t);
    const auto& theirs = ref["logits"][t];
    ASSERT_EQ(theirs.size(), mine.size());
    size_t best = 0, second = 1, my_best = 0;
    for (size_t i = 0; i < mine.size(); ++i) {
      double r = theirs[i].get<double>();
      worst = std::max(worst, std::fabs(mine[i] - r));
      err2 += (mine[i] - r) * (mine[i] - r);
      sum += r;
      sum2 += r * r;
      ++count;
      if (mine[i] > mine[my_best]) my_best = i;
      if (r > theirs[best].get<double>()) {
        second = best;
        best = i;
      } else if (i != best && r > theirs[second].get<double>()) {
        second = i;
      }
    }
    argmax.emplace_back(best, my_best);
    margins.push_back(theirs[best].get<double>() - theirs[second].get<double>());
  }
  double std_dev = std::sqrt(sum2 / count - (sum / count) * (sum / count));
  ASSERT_GT(std_dev, 0.1) << "degenerate logits";
  double rms = std::sqrt(err2 / count);
  const std::string what = c.arch + " " + std::string(tensor_type_name(c.type));
  EXPECT_LE(rms / std_dev, c.rms_tolerance) << what << ": rms error " << rms << ", logit std " << std_dev;
  EXPECT_LE(worst / std_dev, c.max_tolerance) << what << ": max error " << worst << ", logit std " << std_dev;
  for (size_t t = 0; t < argmax.size(); ++t) {
    if (margins[t] > 2 * c.max_tolerance * std_dev) {
      EXPECT_EQ(argmax[t].second, argmax[t].first) << what << " position " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, ReferenceForward,
    // 8-bit activations add about 2% (rms) of noise per model; the largest of several thousand
    // logits sees four to five times that.
    ::testing::Values(Case{"llama", TensorType::f32, 0.001, 0.005},
                      Case{"llama", TensorType::f16, 0.003, 0.012},
                      Case{"llama", TensorType::bf16, 0.015, 0.06},
                      Case{"llama", TensorType::q8_0, 0.04, 0.2},
                      Case{"llama", TensorType::q4_0, 0.04, 0.2},
                      Case{"llama", TensorType::q4_1, 0.04, 0.2},
                      Case{"llama", TensorType::q5_0, 0.04, 0.2},
                      Case{"llama", TensorType::q4_k, 0.04, 0.2},
                      Case{"llama", TensorType::q5_k, 0.04, 0.2},
                      Case{"llama", TensorType::q6_k, 0.04, 0.2},
                      Case{"qwen2", TensorType::f32, 0.001, 0.005},
                      Case{"qwen2", TensorType::q8_0, 0.04, 0.2},
                      Case{"qwen2", TensorType::q4_k, 0.04, 0.2}),
    [](const auto& param_info) {
      std::string name = param_info.param.arch + "_" + std::string(tensor_type_name(param_info.param.type));
      return name;
    });

TEST(ReferenceForward, BertEmbeddingsAgree) {
  for (TensorType type : {TensorType::f32, TensorType::q8_0}) {
    TempDir dir;
    testing::TinyModelSpec spec;
    spec.arch = "bert";
    spec.n_embd = 128;
    spec.n_head = 4;
    spec.n_head_kv = 4;
    spec.n_ff = 256;
    spec.weight_type = type;
    testing::write_tiny_model(spec, dir.file("e.gguf"));
    auto model = Model::load(dir.file("e.gguf"));
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto tokens = (*model)->tokenizer().encode("the quick brown fox jumps over the lazy dog", true, false);
    auto context = Context::create(**model, {});
    ASSERT_TRUE(context.ok());
    auto mine = (*context)->embed(tokens);
    ASSERT_TRUE(mine.ok());
    Json ref = run_reference(dir.file("e.gguf"), tokens, true);
    const auto& theirs = ref["embedding"];
    ASSERT_EQ(theirs.size(), mine->size());
    double dot = 0, worst = 0;
    for (size_t i = 0; i < mine->size(); ++i) {
      dot += (*mine)[i] * theirs[i].get<double>();
      worst = std::max(worst, std::fabs((*mine)[i] - theirs[i].get<double>()));
    }
    // Both are unit vectors: cosine similarity is their dot product.
    EXPECT_GT(dot, type == TensorType::f32 ? 0.99999 : 0.999) << tensor_type_name(type);
    EXPECT_LT(worst, type == TensorType::f32 ? 2e-3 : 2e-2) << tensor_type_name(type);
  }
}

}  // namespace
}  // namespace keel::engine
