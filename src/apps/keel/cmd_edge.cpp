// keel edge prepare|inspect: prepared programs for on-device inference (edge/prepared_program.h).
//   keel edge prepare MODEL.onnx --device DEVICE.yaml -o OUT.kprog [--input-shape 1,3,32,32]
//                     [--spec SPEC] [--min-coverage X] [--max-partitions N] [--fallback SMALL.onnx]
//   keel edge inspect OUT.kprog [--json]
//   keel edge bench OUT.kprog [--frames N] [--json]   per-frame latency on random input
//   keel edge classify OUT.kprog --images SET.kimg [--passes N] [--json]   accuracy and latency
//   keel edge update ...   signed staged updates (cmd_edge_update.cpp)
// The spec's `edge:` section (flags override) bounds delegate coverage and partitions; a model
// outside them is refused (exit 2), or, with --fallback, the smaller model is prepared for the
// device's CPU instead (exit 0, said on stderr). Exit 1: bad input.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <memory>
#include <sstream>

#include "apps/keel/commands.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/statistics.h"
#include "core/text_table.h"
#include "edge/device_profile.h"
#include "edge/image_classifier.h"
#include "edge/prepared_program.h"

namespace keel::app {
namespace {

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel edge: %s\n", message.c_str());
  return code;
}

std::string mega(double v) { return fmt::format("{:.2f} M", v / 1e6); }

void print_plan(const edge::PreparedProgram& p) {
  std::printf("device %s (class %s), input [%s], %d BatchNormalization folded\n", p.device.c_str(),
              p.device_class.c_str(), fmt::format("{}", fmt::join(p.input_shape, ", ")).c_str(),
              p.folded_batch_norms);
  TextTable parts({"#", "delegate", "nodes", "first node", "MACs", "share"});
  int i = 0;
  for (const auto& part : p.partitions.partitions) {
    parts.add_row({std::to_string(++i), part.delegate, std::to_string(part.node_count),
                   p.partitions.nodes[part.first_node].node, mega(part.macs),
                   fmt::format("{:.1f}%", p.partitions.total_macs > 0
                                              ? 100 * part.macs / p.partitions.total_macs
                                              : 0.0)});
  }
  std::printf("%s", parts.render().c_str());
  std::printf("delegate coverage: %.1f%% of MACs, %.1f%% of nodes (%s MACs per frame)\n",
              100 * p.partitions.mac_coverage, 100 * p.partitions.node_coverage,
              mega(p.partitions.total_macs).c_str());
  for (const auto& n : p.partitions.nodes) {
    if (!n.why_not_accelerated.empty() && p.partitions.has_accelerator)
      std::printf("  on cpu: %s (%s): %s\n", n.node.c_str(), n.op_type.c_str(),
                  n.why_not_accelerated.c_str());
  }
  std::printf("memory plan: one arena of %lld bytes for %zu values (%lld bytes unplanned)\n",
              static_cast<long long>(p.memory.arena_bytes), p.memory.buffers.size(),
              static_cast<long long>(p.memory.naive_bytes));
}

Result<std::vector<int64_t>> parse_shape(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      size_t used = 0;
      int64_t v = std::stoll(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      return Status::invalid_argument("--input-shape: positive integers separated by commas");
    }
  }
  return out;
}

struct PrepareFlags {
  std::string model, device, out, input_shape, spec, fallback;
  double min_coverage = -1;
  int64_t max_partitions = -1;
};

int run_prepare(const PrepareFlags& f) {
  auto device = edge::load_device_profile(f.device);
  if (!device.ok()) return fail(device.status().message());
  edge::PrepareOptions options;
  if (!f.input_shape.empty()) {
    auto shape = parse_shape(f.input_shape);
    if (!shape.ok()) return fail(shape.status().message());
    options.input_shape = *shape;
  }
  edge::ProgramBounds bounds;
  if (!f.spec.empty()) {
    auto spec = contract::load_spec(f.spec);
    if (!spec.ok()) return fail(spec.status().message());
    bounds.min_coverage = spec->edge.min_delegate_coverage;
    bounds.max_partitions = spec->edge.max_partitions;
  }
  if (f.min_coverage >= 0) bounds.min_coverage = f.min_coverage;
  if (f.max_partitions >= 0) bounds.max_partitions = f.max_partitions;
  auto bytes = read_file(f.model, 512ull << 20);
  if (!bytes.ok()) return fail(bytes.status().message());
  std::optional<std::string> small;
  if (!f.fallback.empty()) {
    auto fallback = read_file(f.fallback, 512ull << 20);
    if (!fallback.ok()) return fail(fallback.status().message());
    small = std::move(*fallback);
  }
  auto prepared = edge::prepare_within_bounds(std::move(*bytes), std::move(small), *device, options, bounds);
  if (!prepared.ok()) {
    if (prepared.status().code() != StatusCode::failed_precondition)
      return fail(f.model + ": " + prepared.status().message());
    // Out of bounds and no fallback: show the plan that was refused.
    if (auto again = read_file(f.model, 512ull << 20); again.ok()) {
      if (auto plan = edge::prepare_program(std::move(*again), *device, options); plan.ok())
        print_plan(*plan);
    }
    return fail("refused: " + prepared.status().message(), 2);
  }
  if (prepared->refused) {
    print_plan(*prepared->refused);
    std::fprintf(stderr, "keel edge: %s: %s; preparing the fallback %s for the CPU instead\n",
                 f.model.c_str(), prepared->refusal.c_str(), f.fallback.c_str());
  }
  print_plan(prepared->program);
  const edge::PreparedProgram* program = &prepared->program;
  auto id = edge::write_program(f.out, *program);
  if (!id.ok()) return fail(id.status().message());
  std::printf("wrote %s (program sha256 %s)\n", f.out.c_str(), id->c_str());
  return 0;
}

int run_bench(const std::string& path, int frames, bool json) {
  auto loaded = edge::load_program(path);
  if (!loaded.ok()) return fail("refused: " + loaded.status().message(), 2);
  edge::Tensor x;
  x.shape = loaded->input_shape;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  x.data.resize(static_cast<size_t>(x.element_count()));
  for (auto& v : x.data) v = normal(rng);
  const std::string input = loaded->runtime->graph().inputs[0].name;
  std::map<std::string, edge::Tensor, std::less<>> inputs{{input, x}};
  std::vector<double> ms;
  for (int i = 0; i < frames + 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto out = loaded->runtime->run(inputs);
    const double took =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!out.ok()) return fail(out.status().message());
    if (i >= 5) ms.push_back(took);  // the first frames warm the caches
  }
  auto at = [&](double q) { return percentile(ms, q); };
  if (json) {
    std::printf("%s\n", dump_json(Json{{"frames", frames}, {"p50_ms", at(0.5)}, {"p99_ms", at(0.99)},
                                       {"input_shape", loaded->input_shape}})
                            .c_str());
  } else {
    std::printf("%d frames of [%s] on the portable CPU kernels, 1 thread: p50 %.3f ms, p99 %.3f ms\n",
                frames, fmt::format("{}", fmt::join(loaded->input_shape, ", ")).c_str(), at(0.5),
                at(0.99));
  }
  return 0;
}

int run_classify(const std::string& path, const std::string& images, int passes, bool json) {
  auto loaded = edge::load_program(path);
  if (!loaded.ok()) return fail("refused: " + loaded.status().message(), 2);
  auto classifier = edge::ImageClassifier::from_program(std::move(*loaded));
  if (!classifier.ok()) return fail(path + ": " + classifier.status().message());
  auto set = edge::load_image_set(images);
  if (!set.ok()) return fail(set.status().message());
  auto e = edge::evaluate_on_set(*classifier, *set, passes);
  if (!e.ok()) return fail(e.status().message());
  if (json) {
    std::printf("%s\n", dump_json(Json{{"images", e->images}, {"correct", e->correct},
                                       {"accuracy", e->accuracy}, {"p50_ms", e->p50_ms},
                                       {"p99_ms", e->p99_ms}, {"confusion", e->confusion},
                                       {"labels", set->labels}})
                            .c_str());
    return 0;
  }
  std::vector<std::string> header = {"true \\ predicted"};
  for (const auto& l : set->labels) header.push_back(l);
  TextTable t(header);
  for (size_t r = 0; r < set->labels.size(); ++r) {
    std::vector<std::string> row = {set->labels[r]};
    for (int64_t v : e->confusion[r]) row.push_back(std::to_string(v));
    t.add_row(row);
  }
  std::printf("%s", t.render().c_str());
  std::printf("accuracy %.2f%% (%zu/%zu); per image p50 %.3f ms, p99 %.3f ms (preprocessing included)\n",
              100 * e->accuracy, e->correct, e->images, e->p50_ms, e->p99_ms);
  return 0;
}

}  // namespace

void add_edge_command(CLI::App& root, int& exit_code) {
  CLI::App* edge = root.add_subcommand("edge", "Prepared programs for on-device inference");
  edge->require_subcommand(1);
  auto f = std::make_shared<PrepareFlags>();
  CLI::App* prepare = edge->add_subcommand(
      "prepare", "Partition a model between a device's delegates and plan its memory");
  prepare->add_option("model", f->model, "the ONNX model")->required();
  prepare->add_option("--device", f->device, "the device profile (YAML)")->required();
  prepare->add_option("-o,--out", f->out, "the prepared program to write")->required();
  prepare->add_option("--input-shape", f->input_shape, "the input's shape, e.g. 1,3,32,32");
  prepare->add_option("--spec", f->spec, "a mobile-vision spec whose edge: section bounds it");
  prepare->add_option("--min-coverage", f->min_coverage,
                      "least share of MACs on an accelerator delegate (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  prepare->add_option("--max-partitions", f->max_partitions, "most partitions (0: no bound)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  prepare->add_option("--fallback", f->fallback,
                      "a smaller model prepared for the CPU when this one is out of bounds");
  prepare->callback([f, &exit_code] { exit_code = run_prepare(*f); });

  struct InspectFlags {
    std::string program;
    bool json = false;
  };
  auto i = std::make_shared<InspectFlags>();
  CLI::App* inspect = edge->add_subcommand("inspect", "Verify a prepared program and show its plan");
  inspect->add_option("program", i->program, "the .kprog file")->required();
  inspect->add_flag("--json", i->json, "print the verified header as JSON");
  inspect->callback([i, &exit_code] {
    auto loaded = edge::load_program(i->program);
    if (!loaded.ok()) {
      exit_code = fail("refused: " + loaded.status().message(), 2);
      return;
    }
    if (i->json) {
      std::printf("%s\n", dump_json(loaded->header, 2).c_str());
    } else {
      const Json& h = loaded->header;
      std::printf("verified %s: program sha256 %s, model sha256 %s\n", i->program.c_str(),
                  loaded->program_sha256.c_str(), h.value("model_sha256", std::string()).c_str());
      std::printf("device %s, %zu partition(s), coverage %.1f%% of MACs, arena %lld bytes\n",
                  h.value("device", std::string()).c_str(), h["partitions"].size(),
                  100 * h["coverage"].value("macs", 0.0),
                  static_cast<long long>(h["memory"].value("arena_bytes", int64_t{0})));
    }
    exit_code = 0;
  });

  struct BenchFlags {
    std::string program;
    int frames = 200;
    bool json = false;
  };
  auto b = std::make_shared<BenchFlags>();
  CLI::App* bench = edge->add_subcommand("bench", "Time a prepared program per frame (random input)");
  bench->add_option("program", b->program, "the .kprog file")->required();
  bench->add_option("--frames", b->frames, "frames to time")->check(CLI::Range(1, 1000000));
  bench->add_flag("--json", b->json, "print {frames, p50_ms, p99_ms} as JSON");
  bench->callback([b, &exit_code] { exit_code = run_bench(b->program, b->frames, b->json); });

  struct ClassifyFlags {
    std::string program, images;
    int passes = 1;
    bool json = false;
  };
  auto c = std::make_shared<ClassifyFlags>();
  CLI::App* classify = edge->add_subcommand(
      "classify", "Classify a labelled image set with a prepared program (accuracy, latency)");
  classify->add_option("program", c->program, "the .kprog file")->required();
  classify->add_option("--images", c->images, "the labelled image set (.kimg)")->required();
  classify->add_option("--passes", c->passes, "runs over the set (latency samples)")->check(CLI::Range(1, 1000));
  classify->add_flag("--json", c->json, "print as JSON");
  classify->callback([c, &exit_code] { exit_code = run_classify(c->program, c->images, c->passes, c->json); });

  add_edge_update_command(*edge, exit_code);
}

}  // namespace keel::app
