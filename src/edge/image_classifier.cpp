#include "edge/image_classifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/json.h"
#include "core/statistics.h"

namespace keel::edge {
namespace {

// The grey level of pixel (x, y).
float grey_at(const Frame& f, int64_t x, int64_t y) {
  const uint8_t* p = f.pixels.data() + (y * f.width + x) * f.channels;
  if (f.channels == 1) return p[0];
  return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

// Area average over the source box an output pixel covers (downscaling), else bilinear.
float sample(const Frame& f, int64_t ox, int64_t oy, int64_t ow, int64_t oh) {
  const double sx = static_cast<double>(f.width) / static_cast<double>(ow);
  const double sy = static_cast<double>(f.height) / static_cast<double>(oh);
  if (sx >= 1 && sy >= 1) {
    const auto x0 = static_cast<int64_t>(std::floor(ox * sx));
    const auto y0 = static_cast<int64_t>(std::floor(oy * sy));
    const int64_t x1 = std::max(x0 + 1, std::min<int64_t>(f.width, std::llround(std::ceil((ox + 1) * sx))));
    const int64_t y1 = std::max(y0 + 1, std::min<int64_t>(f.height, std::llround(std::ceil((oy + 1) * sy))));
    double sum = 0;
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x) sum += grey_at(f, x, y);
    return static_cast<float>(sum / static_cast<double>((x1 - x0) * (y1 - y0)));
  }
  const double fx = std::clamp((ox + 0.5) * sx - 0.5, 0.0, static_cast<double>(f.width - 1));
  const double fy = std::clamp((oy + 0.5) * sy - 0.5, 0.0, static_cast<double>(f.height - 1));
  const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const int64_t x1 = std::min(x0 + 1, f.width - 1), y1 = std::min(y0 + 1, f.height - 1);
  const double ax = fx - static_cast<double>(x0), ay = fy - static_cast<double>(y0);
  const double top = grey_at(f, x0, y0) * (1 - ax) + grey_at(f, x1, y0) * ax;
  const double bottom = grey_at(f, x0, y1) * (1 - ax) + grey_at(f, x1, y1) * ax;
  return static_cast<float>(top * (1 - ay) + bottom * ay);
}

}  // namespace

Result<ImageClassifier> ImageClassifier::from_program(LoadedProgram program) {
  if (!program.runtime) return Status::invalid_argument("the program has no runtime");
  const OnnxGraph& graph = program.runtime->graph();
  ImageClassifier c;
  KEEL_ASSIGN_OR_RETURN(Json labels, metadata_json(graph, "keel.labels"));
  KEEL_ASSIGN_OR_RETURN(Json pre, metadata_json(graph, "keel.preprocess"));
  try {
    c.labels_ = labels.get<std::vector<std::string>>();
    if (pre.value("layout", "") != "NCHW" || pre.value("channels", "") != "grey")
      return Status::invalid_argument("keel.preprocess: only NCHW grey input is supported");
    c.preprocess_.width = pre.at("width").get<int64_t>();
    c.preprocess_.height = pre.at("height").get<int64_t>();
    c.preprocess_.mean = pre.at("mean").get<double>();
    c.preprocess_.std = pre.at("std").get<double>();
  } catch (const std::exception&) {
    return Status::invalid_argument(
        "keel.labels must be a string array and keel.preprocess needs width, height, mean, std");
  }
  if (c.labels_.empty() || c.preprocess_.std <= 0 || c.preprocess_.width < 1 || c.preprocess_.height < 1)
    return Status::invalid_argument("keel.labels is empty or keel.preprocess is out of range");
  const std::vector<int64_t> want = {1, 1, c.preprocess_.height, c.preprocess_.width};
  if (program.input_shape != want)
    return Status::invalid_argument(fmt::format("the program's input is [{}], keel.preprocess says [{}]",
                                                fmt::join(program.input_shape, ", "), fmt::join(want, ", ")));
  c.input_name_ = graph.inputs.at(0).name;
  c.program_ = std::move(program);
  // One run on a blank frame proves the output matches the labels.
  const std::vector<uint8_t> blank(static_cast<size_t>(want[2] * want[3]), 0);
  KEEL_ASSIGN_OR_RETURN(ImageClassification probe, c.classify({want[3], want[2], 1, blank}));
  if (probe.probabilities.size() != c.labels_.size())
    return Status::invalid_argument(fmt::format("the model gives {} outputs for {} labels",
                                                probe.probabilities.size(), c.labels_.size()));
  return c;
}

Result<Tensor> ImageClassifier::preprocess(const Frame& f) const {
  if (f.width < 1 || f.height < 1 || (f.channels != 1 && f.channels != 3) ||
      f.pixels.size() != static_cast<size_t>(f.width * f.height * f.channels))
    return Status::invalid_argument(fmt::format("a frame of {}x{}x{} with {} bytes", f.width,
                                                f.height, f.channels, f.pixels.size()));
  const auto& p = preprocess_;
  Tensor t;
  t.shape = {1, 1, p.height, p.width};
  t.data.resize(static_cast<size_t>(p.width * p.height));
  const double scale = 1.0 / (255.0 * p.std), shift = p.mean / p.std;
  for (int64_t y = 0; y < p.height; ++y)
    for (int64_t x = 0; x < p.width; ++x)
      t.data[static_cast<size_t>(y * p.width + x)] =
          static_cast<float>(sample(f, x, y, p.width, p.height) * scale - shift);
  return t;
}

Result<ImageClassification> ImageClassifier::classify(const Frame& frame) const {
  KEEL_ASSIGN_OR_RETURN(Tensor input, preprocess(frame));
  std::map<std::string, Tensor, std::less<>> inputs;
  inputs.emplace(input_name_, std::move(input));
  KEEL_ASSIGN_OR_RETURN(std::vector<Tensor> out, program_.runtime->run(inputs));
  if (out.empty() || out[0].data.empty()) return Status::internal("the model produced no output");
  ImageClassification c;
  c.probabilities = std::move(out[0].data);
  const auto best = std::max_element(c.probabilities.begin(), c.probabilities.end());
  c.label = best - c.probabilities.begin();
  c.score = *best;
  return c;
}

Result<SetEvaluation> evaluate_on_set(const ImageClassifier& classifier, const ImageSet& set,
                                      int passes) {
  if (set.labels != classifier.labels())
    return Status::invalid_argument(fmt::format("the set's labels [{}] differ from the model's [{}]",
                                                fmt::join(set.labels, ", "),
                                                fmt::join(classifier.labels(), ", ")));
  SetEvaluation e;
  const size_t n = set.labels.size();
  e.confusion.assign(n, std::vector<int64_t>(n, 0));
  std::vector<double> latencies;
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    for (size_t i = 0; i < set.count(); ++i) {
      const auto start = std::chrono::steady_clock::now();
      KEEL_ASSIGN_OR_RETURN(ImageClassification c,
                            classifier.classify({set.width, set.height, set.channels, set.image(i)}));
      latencies.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      if (pass > 0) continue;
      ++e.images;
      const auto target = static_cast<size_t>(set.targets[i]);
      ++e.confusion[target][static_cast<size_t>(c.label)];
      if (c.label == set.targets[i]) ++e.correct;
    }
  }
  e.accuracy = e.images ? static_cast<double>(e.correct) / static_cast<double>(e.images) : 0;
  e.p50_ms = percentile(latencies, 0.5);
  e.p99_ms = percentile(latencies, 0.99);
  return e;
}

}  // namespace keel::edge
