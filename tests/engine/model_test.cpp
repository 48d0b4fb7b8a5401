// Loading a model: each architecture, tied outputs, and missing or misshapen tensors named.
#include <gtest/gtest.h>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

TEST(Model, LoadsEachArchitectureAndTiedOutputs) {
  TempDir dir;
  for (const char* arch : {"llama", "qwen2", "bert"}) {
    testing::TinyModelSpec spec;
    spec.arch = arch;
    auto m = testing::write_and_load_tiny_model(spec, dir.file(std::string(arch) + ".gguf"));
    ASSERT_NE(m, nullptr) << arch;
    EXPECT_EQ(m->config().arch_name, arch);
  }
  testing::TinyModelSpec tied;
  tied.tied_output = true;
  auto m = testing::write_and_load_tiny_model(tied, dir.file("tied.gguf"));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->weights().output.data, m->weights().token_embd.data);
}

TEST(Model, MissingOrMisshapenTensorsAreNamed) {
  TempDir dir;
  testing::write_tiny_model({}, dir.file("good.gguf"));
  auto good = GgufFile::open(dir.file("good.gguf"));
  ASSERT_TRUE(good.ok());
  auto rewrite = [&](const std::string& drop, const std::string& reshape) {
    GgufWriter w;
    for (const auto& [k, v] : (*good)->metadata()) w.copy_value(k, v);
    for (const auto& t : (*good)->tensors()) {
      if (t.name == drop) continue;
      auto dims = t.dims;
      uint64_t bytes = t.n_bytes;
      if (t.name == reshape) {
        dims = {dims[0], dims[1] / 2};
        bytes /= 2;
      }
      EXPECT_TRUE(w.add_tensor_view(t.name, dims, t.type, {t.data, bytes}).ok());
    }
    EXPECT_TRUE(w.write(dir.file("bad.gguf")).ok());
    return Model::load(dir.file("bad.gguf")).status();
  };
  Status missing = rewrite("blk.1.ffn_up.weight", "");
  EXPECT_NE(missing.message().find("tensor 'blk.1.ffn_up.weight' is missing"), std::string::npos)
      << missing.message();
  Status shape = rewrite("", "blk.0.attn_k.weight");
  EXPECT_NE(shape.message().find("tensor 'blk.0.attn_k.weight' has shape"), std::string::npos)
      << shape.message();
}

}  // namespace
}  // namespace keel::engine
