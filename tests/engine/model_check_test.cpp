// Checking a model file: a pass, files that are not models, and degenerate or non-finite models.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "engine/model.h"
#include "engine/model_check.h"
#include "support/test_support.h"
#include "tiny_model.h"

namespace keel::engine {
namespace {

using keel::testing::TempDir;

TEST(CheckModel, PassesAModelAndSaysWhyOthersFail) {
  TempDir dir;
  testing::write_tiny_model({}, dir.file("m.gguf"));
  std::vector<std::string> stages;
  auto check = check_model(dir.file("m.gguf"), [&](const std::string& stage, uint64_t, uint64_t) { stages.push_back(stage); });
  ASSERT_TRUE(check.ok()) << check.status().to_string();
  EXPECT_TRUE(check->passed) << check->detail;
  EXPECT_EQ(check->architecture, "llama");
  EXPECT_EQ(check->sha256.size(), 64u);
  EXPECT_EQ(stages.front(), "hashing");
  EXPECT_EQ(stages.back(), "self-test");
  // A file that is not a GGUF is refused before it is hashed (no result to record).
  keel::testing::write_file(dir.file("junk.gguf"), "not a model at all");
  auto junk = check_model(dir.file("junk.gguf"), [&](const std::string& stage, uint64_t, uint64_t) {
    ADD_FAILURE() << "a file that is not a GGUF was " << stage;
  });
  EXPECT_EQ(junk.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(junk.status().message().find("not a GGUF file"), std::string::npos) << junk.status().to_string();
  // Neither a FIFO (which would block) nor a device (which never ends) is read.
  ASSERT_EQ(mkfifo(dir.file("fifo.gguf").c_str(), 0600), 0);
  EXPECT_EQ(check_model(dir.file("fifo.gguf")).status().code(), StatusCode::invalid_argument);
  EXPECT_EQ(check_model("/dev/zero").status().code(), StatusCode::invalid_argument);
}

TEST(CheckModel, FailsDegenerateWeightsAndNonFiniteHyperparameters) {
  TempDir dir;
  testing::TinyModelSpec zero;
  zero.weight_scale = 0;
  zero.output_scale = 0;  // every logit 0
  testing::write_tiny_model(zero, dir.file("zero.gguf"));
  auto zeros = check_model(dir.file("zero.gguf"));
  ASSERT_TRUE(zeros.ok()) << zeros.status().to_string();
  EXPECT_FALSE(zeros->passed);
  EXPECT_NE(zeros->detail.find("degenerate"), std::string::npos) << zeros->detail;

  testing::TinyModelSpec infinite;
  infinite.rms_norm_eps = std::numeric_limits<float>::infinity();
  testing::write_tiny_model(infinite, dir.file("inf.gguf"));
  auto inf = check_model(dir.file("inf.gguf"));
  ASSERT_TRUE(inf.ok()) << inf.status().to_string();
  EXPECT_FALSE(inf->passed);
  EXPECT_NE(inf->detail.find("layer_norm_rms_epsilon"), std::string::npos) << inf->detail;
  EXPECT_EQ(Model::load(dir.file("inf.gguf")).status().code(), StatusCode::invalid_argument);
}

}  // namespace
}  // namespace keel::engine
