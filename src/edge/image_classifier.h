// An image classifier over a prepared program (scenario mobile-vision): a frame of any size in,
// a label with its score out. The model says how it wants its input (ONNX metadata written by
// tools/train_vision_model.py): keel.labels (a JSON array) and keel.preprocess ({"layout":
// "NCHW", "channels": "grey", "width", "height", "mean", "std"}).
//
// Contract:
// - from_program() refuses a program whose model lacks either metadata entry, whose input shape
//   is not [1, 1, height, width] as keel.preprocess says, or whose output width differs from
//   the labels (invalid_argument naming what is wrong).
// - preprocess(): grey = the frame's one channel, or 0.299 R + 0.587 G + 0.114 B; resized to the
//   model's size by averaging the source pixels each output pixel covers (bilinear when
//   enlarging); x = (grey / 255 - mean) / std. A frame of zero size or whose pixel count differs
//   from width x height x channels is invalid_argument.
// - evaluate_on_set() runs every image `passes` times (latency per run, accuracy from the
//   first pass) and refuses a set whose labels differ from the model's.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "edge/image_set.h"
#include "edge/prepared_program.h"

namespace keel::edge {

struct Frame {
  int64_t width = 0, height = 0, channels = 0;  //!< channels: 1 (grey) or 3 (RGB)
  std::span<const uint8_t> pixels;              //!< rows top to bottom, channels last
};

struct ImageClassification {
  int64_t label = -1;
  float score = 0;
  std::vector<float> probabilities;
};

struct ImagePreprocess {
  int64_t width = 0, height = 0;
  double mean = 0, std = 1;
};

class ImageClassifier {
 public:
  [[nodiscard]] static Result<ImageClassifier> from_program(LoadedProgram program);

  [[nodiscard]] Result<Tensor> preprocess(const Frame& frame) const;
  [[nodiscard]] Result<ImageClassification> classify(const Frame& frame) const;

  const std::vector<std::string>& labels() const { return labels_; }
  const ImagePreprocess& input() const { return preprocess_; }
  const LoadedProgram& program() const { return program_; }

 private:
  LoadedProgram program_;
  std::vector<std::string> labels_;
  ImagePreprocess preprocess_;
  std::string input_name_;
};

struct SetEvaluation {
  size_t images = 0, correct = 0;
  double accuracy = 0;
  double p50_ms = 0, p99_ms = 0;
  std::vector<std::vector<int64_t>> confusion;  //!< [target][predicted]
};

[[nodiscard]] Result<SetEvaluation> evaluate_on_set(const ImageClassifier& classifier,
                                                    const ImageSet& set, int passes = 1);

}  // namespace keel::edge
