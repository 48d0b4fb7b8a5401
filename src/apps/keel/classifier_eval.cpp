#include "apps/keel/classifier_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "contract/checks.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "core/statistics.h"
#include "core/text_table.h"
#include "edge/text_classifier.h"

namespace keel::app {
namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "keel eval: %s\n", message.c_str());
  return 1;
}

}  // namespace

int run_classifier_eval(const ClassifierEvalOptions& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  if (!spec->browser.signer) return fail(o.spec + " pins no browser.signer");
  const contract::ModelSpec* model = nullptr;
  for (const auto& m : spec->deployment.models) {
    if (m.role == contract::ModelRole::classify && !m.path.empty()) model = &m;
  }
  if (!model) return fail(o.spec + " has no classify model with a path");
  const std::filesystem::path file = contract::resolve_spec_path(*spec, model->path);
  auto clf = edge::TextClassifier::load((file.parent_path() / "manifest.json").string(),
                                        *spec->browser.signer);
  if (!clf.ok()) return fail(clf.status().message());
  const std::string heldout =
      o.heldout.empty() ? (std::filesystem::path(spec->base_dir) / "browser-classifier" /
                           "heldout.jsonl")
                              .string()
                        : o.heldout;
  std::ifstream in(heldout);
  if (!in) return fail("cannot read " + heldout);

  const auto& labels = clf->manifest().labels;
  const size_t n = labels.size();
  std::vector<std::vector<int>> confusion(n, std::vector<int>(n, 0));
  std::vector<double> latencies_ms;
  int total = 0, right = 0, line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    auto doc = parse_json(line);
    if (!doc.ok() || !doc->contains("text") || !doc->contains("label"))
      return fail(fmt::format("{} line {}: expected {{\"text\", \"label\"}}", heldout, line_no));
    const std::string want = (*doc)["label"].get<std::string>();
    auto want_at = std::find(labels.begin(), labels.end(), want);
    if (want_at == labels.end())
      return fail(fmt::format("{} line {}: label '{}' is not one of the model's", heldout,
                              line_no, want));
    const auto start = std::chrono::steady_clock::now();
    auto c = clf->classify((*doc)["text"].get<std::string>());
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (!c.ok()) return fail(fmt::format("{} line {}: {}", heldout, line_no, c.status().message()));
    const size_t got = std::find(labels.begin(), labels.end(), c->label) - labels.begin();
    ++confusion[want_at - labels.begin()][got];
    right += c->label == want;
    ++total;
  }
  if (total == 0) return fail(heldout + " holds no documents");

  Json per_label = Json::object();
  TextTable table({"label", "precision", "recall", "documents"});
  for (size_t i = 0; i < n; ++i) {
    int tp = confusion[i][i], predicted = 0, actual = 0;
    for (size_t j = 0; j < n; ++j) {
      predicted += confusion[j][i];
      actual += confusion[i][j];
    }
    const double precision = predicted ? static_cast<double>(tp) / predicted : 0;
    const double recall = actual ? static_cast<double>(tp) / actual : 0;
    per_label[labels[i]] = Json{{"precision", precision}, {"recall", recall}, {"documents", actual}};
    table.add_row({labels[i], fmt::format("{:.3f}", precision), fmt::format("{:.3f}", recall),
                   std::to_string(actual)});
  }
  const double accuracy = static_cast<double>(right) / total;
  const double p50 = percentile(latencies_ms, 0.5), p95 = percentile(latencies_ms, 0.95);
  if (o.json) {
    std::printf("%s\n", dump_json(Json{{"model_sha256", clf->model_sha256()},
                                       {"documents", total},
                                       {"accuracy", accuracy},
                                       {"labels", labels},
                                       {"per_label", per_label},
                                       {"confusion", confusion},
                                       {"latency_ms", Json{{"p50", p50}, {"p95", p95}}}},
                                  2)
                            .c_str());
    return 0;
  }
  std::printf("browser-classifier: %s (sha256 %s...) on %s\n", clf->manifest().id.c_str(),
              clf->model_sha256().substr(0, 12).c_str(), heldout.c_str());
  std::printf("accuracy %.4f (%d of %d held-out documents)\n\n%s\n", accuracy, right, total,
              table.render().c_str());
  std::vector<std::string> header = {"true \\ predicted"};
  header.insert(header.end(), labels.begin(), labels.end());
  TextTable matrix(header);
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> row = {labels[i]};
    for (size_t j = 0; j < n; ++j) row.push_back(std::to_string(confusion[i][j]));
    matrix.add_row(row);
  }
  std::printf("%s\nserver-side classification (Keel's graph runtime, 1 thread): p50 %.3f ms, "
              "p95 %.3f ms\n",
              matrix.render().c_str(), p50, p95);
  return 0;
}

}  // namespace keel::app
