#include "edge/canary_check.h"

#include <fmt/format.h>

#include <memory>

#include "edge/image_classifier.h"

namespace keel::edge {

HealthCheck canary_health_check(ImageSet canary, CanaryBounds bounds) {
  auto set = std::make_shared<const ImageSet>(std::move(canary));
  return [set, bounds](const std::string& path, const ProgramUpdate& update) -> Result<HealthReport> {
    KEEL_ASSIGN_OR_RETURN(LoadedProgram program, load_program(path));
    KEEL_ASSIGN_OR_RETURN(ImageClassifier classifier, ImageClassifier::from_program(std::move(program)));
    KEEL_ASSIGN_OR_RETURN(SetEvaluation e, evaluate_on_set(classifier, *set, bounds.passes));
    HealthReport r;
    r.accuracy = e.accuracy;
    r.p50_ms = e.p50_ms;
    r.p99_ms = e.p99_ms;
    r.images = e.images;
    double bound = update.terms.max_p99_ms;
    if (bounds.device_max_p99_ms > 0 && (bound <= 0 || bounds.device_max_p99_ms < bound))
      bound = bounds.device_max_p99_ms;
    std::vector<std::string> failed;
    if (e.accuracy + 1e-12 < update.terms.min_accuracy)
      failed.push_back(fmt::format("canary accuracy {:.1f}% ({}/{}) is below {:.1f}%",
                                   100 * e.accuracy, e.correct, e.images,
                                   100 * update.terms.min_accuracy));
    if (bound > 0 && e.p99_ms > bound)
      failed.push_back(fmt::format("canary p99 {:.2f} ms exceeds {:.2f} ms", e.p99_ms, bound));
    r.passed = failed.empty();
    r.reason = r.passed ? fmt::format("canary accuracy {:.1f}% ({}/{}), p99 {:.2f} ms",
                                      100 * e.accuracy, e.correct, e.images, e.p99_ms)
                        : fmt::format("{}", fmt::join(failed, "; "));
    return r;
  };
}

}  // namespace keel::edge
