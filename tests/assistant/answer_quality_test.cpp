// The generator's evaluation record: written beside the model, speaking only for the file it
// was measured on (size and SHA-256), and the bundled tiny model's record current.
#include "assistant/answer_quality.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel::assistant {
namespace {

TEST(AnswerQuality, RecordsAndRecognisesTheSameFileOnly) {
  testing::TempDir dir;
  const std::string model = dir.file("m.gguf");
  testing::write_file(model, "GGUF pretend weights");
  auto none = current_answer_quality(model);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "no record: nothing to say";

  AnswerQualityRecord r;
  r.questions = 42;
  r.answerable = 32;
  r.answered_correctly = 0.125;
  r.unanswerable_declined = 0.9;
  r.measured_at_unix_s = 1;
  ASSERT_TRUE(write_answer_quality(model, r).ok());
  auto current = current_answer_quality(model);
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->file, "m.gguf");
  EXPECT_DOUBLE_EQ((*current)->answered_correctly, 0.125);

  // Same size, other bytes: the record speaks for another file.
  testing::write_file(model, "GGUF pretend weighTs");
  auto changed = current_answer_quality(model);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->has_value());

  testing::write_file(answer_quality_path(model), "{\"keel_eval_record\": 1}");
  EXPECT_EQ(current_answer_quality(model).status().code(), StatusCode::data_loss);
  testing::write_file(answer_quality_path(model), "not json");
  EXPECT_EQ(read_answer_quality(model).status().code(), StatusCode::data_loss);
}

TEST(AnswerQuality, TheBundledChatModelsRecordIsCurrentAndBelowTheFloor) {
  // The record committed with models/keel-tiny-chat.gguf must be for that very file; the CLI
  // test re-measures the figure (LocalResearch.GeneratorRecordIsReproduced).
  auto record = current_answer_quality(testing::source_dir() + "/models/keel-tiny-chat.gguf");
  ASSERT_TRUE(record.ok()) << record.status().to_string();
  ASSERT_TRUE(record->has_value()) << "run: keel eval local-research --record";
  EXPECT_LT((*record)->answered_correctly, 0.5);
  EXPECT_EQ((*record)->answerable, 32);
}

}  // namespace
}  // namespace keel::assistant
