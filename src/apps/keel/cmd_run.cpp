// keel run SPEC [--question Q] [--model M] [--embed-model E] [--store PATH] [--json]: run a
// deployment as its plan says. local-research: guard, fit models, index the spec's folder, answer
// with verified citations (the folder's sample question when none is given).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <tuple>

#include "apps/keel/answer_output.h"
#include "apps/keel/commands.h"
#include "apps/keel/vision_run.h"
#include "assistant/local_research_run.h"
#include "assistant/run_metrics.h"
#include "context/store.h"
#include "contract/plan.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/json.h"

namespace keel::app {
namespace {

struct Options {
  std::string spec, question, model, embed_model, store, answer = "auto", metrics;
  int threads = 0;
  bool json = false;
  VisionRunOptions vision;  //!< mobile-vision (--video and the flags beside it)
};

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel run: %s\n", message.c_str());
  return code;
}

// `keel run` runs local-research; other scenarios are refused with the command that runs them.
Status check_runnable(const contract::Spec& spec, const std::string& path) {
  using contract::ScenarioId;
  if (spec.scenario == ScenarioId::llm_service) {
    return Status::invalid_argument(fmt::format("llm-service runs as `keel serve --spec {}`", path));
  }
  if (spec.scenario == ScenarioId::durable_agent) {
    return Status::invalid_argument(fmt::format("durable-agent runs as `keel agent run {} --case <ID>`", path));
  }
  if (spec.scenario != ScenarioId::local_research && contract::runtime_built(spec.scenario)) {
    return Status::invalid_argument(fmt::format("{} runs as `{}`", contract::enum_name(spec.scenario),
                                                contract::runtime_command(spec.scenario)));
  }
  if (spec.scenario != ScenarioId::local_research) {
    return Status::invalid_argument(fmt::format("the runtime for scenario {} is not built yet; `keel plan {}` shows its plan",
                                                contract::enum_name(spec.scenario), path));
  }
  return Status::ok_status();
}

// --model and --embed-model replace the spec's models; with another embedding model the index
// goes to a store of its own (a store keeps one embedding model's vectors).
Status apply_model_flags(const Options& o, contract::Spec& spec, std::string& store_path) {
  for (auto [flag, file, role] : {std::tuple{"--model", &o.model, contract::ModelRole::generate},
                                  std::tuple{"--embed-model", &o.embed_model, contract::ModelRole::embed}}) {
    if (file->empty()) continue;
    Status replaced = contract::replace_model_file(spec, role, *file);
    if (!replaced.ok()) return Status(replaced.code(), fmt::format("{}: {}", flag, replaced.message()));
  }
  if (store_path.empty() && !o.embed_model.empty()) {
    std::filesystem::path beside = std::filesystem::path(context::default_store_path(spec.name)).parent_path();
    store_path = (beside / ("store-" + std::filesystem::path(o.embed_model).stem().string() + ".db")).string();
  }
  return Status::ok_status();
}

Json run_outbound_json(const assistant::LocalResearchRun& run) {
  return {{"bytes", run.outbound ? Json(run.outbound->bytes) : Json(nullptr)},
          {"packets", run.outbound ? Json(run.outbound->packets) : Json(nullptr)},
          {"measured_by", run.outbound_note}};
}

void print_json(const Options& o, const assistant::LocalResearchRun& run, const std::string& metrics_path) {
  Json j = answer_json(run.answer);
  j["spec"] = o.spec;
  j["store"] = run.store_path;
  j["egress_guarded"] = run.egress_guarded;
  j["answer_mode"] = run.answer_mode_reason;
  j["outbound"] = run_outbound_json(run);
  j["metrics_file"] = metrics_path.empty() ? Json(nullptr) : Json(metrics_path);
  j["model"] = {{"id", run.generate_model.chosen.id},
                {"path", run.generate_model.chosen.path},
                {"fell_back", run.generate_model.fell_back}};
  if (run.embed_model) {
    j["embed_model"] = {{"id", run.embed_model->chosen.id}, {"path", run.embed_model->chosen.path}};
  }
  std::printf("%s\n", dump_json(j, 2).c_str());
}

void print_text(const std::string& question, const assistant::LocalResearchRun& run, const std::string& metrics_path,
                bool streamed) {
  const auto& a = run.answer;
  if (!streamed) std::printf("\nQ: %s\nA: ", question.c_str());
  std::string text = answer_unstreamed_text(a);
  if (!text.empty()) std::printf("%s%s", streamed ? "\n\n" : "", text.c_str());
  std::printf("\n%s", answer_footer(a).c_str());
  std::printf("Answer mode: %s\n", run.answer_mode_reason.c_str());
  std::printf("Egress guard: %s\n", run.egress_guarded ? "installed (no Internet socket can be opened)" : "not required by the spec");
  if (run.outbound) {
    std::printf("Outbound: %llu bytes in %llu packets (%s)\n", static_cast<unsigned long long>(run.outbound->bytes),
                static_cast<unsigned long long>(run.outbound->packets), run.outbound_note.c_str());
  } else if (!run.outbound_note.empty()) {
    std::printf("Outbound: %s\n", run.outbound_note.c_str());
  }
  if (!metrics_path.empty()) std::printf("Metrics: %s\n", metrics_path.c_str());
  if (is_bundled_tiny_model(run.generate_model.chosen.path)) std::printf("\n%s", tiny_model_notice(a.extracted).c_str());
}

int run(Options& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  if (spec->scenario == contract::ScenarioId::mobile_vision) {
    if (o.vision.video.empty())
      return fail(fmt::format("mobile-vision runs over a video: keel run {} --video FILE.y4m (or - for "
                              "a camera piped through ffmpeg)",
                              o.spec));
    o.vision.spec_path = o.spec;
    o.vision.metrics = o.metrics;
    o.vision.json = o.json;
    return run_mobile_vision(*spec, o.vision);
  }
  if (Status runnable = check_runnable(*spec, o.spec); !runnable.ok()) return fail(runnable.message());
  assistant::LocalResearchRunOptions options;
  options.store_path = o.store;
  if (Status flags = apply_model_flags(o, *spec, options.store_path); !flags.ok()) return fail(flags.message());
  if (o.question.empty()) {
    auto sample = assistant::sample_question(*spec);
    if (!sample.ok()) return fail(sample.status().message() + "; pass --question");
    o.question = *sample;
    std::fprintf(stderr, "keel run: no --question given: asking the sample question\n");
  }
  options.question = o.question;
  options.threads = o.threads;
  options.answer_mode = parse_answer_mode(o.answer);
  options.progress = [](const std::string& line) { std::fprintf(stderr, "keel run: %s\n", line.c_str()); };
  bool streamed = false;
  options.on_text = [&](std::string_view piece) {
    if (o.json) return;
    if (!streamed) std::printf("\nQ: %s\nA: ", o.question.c_str());
    streamed = true;
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  auto run = assistant::run_local_research(*spec, options);
  if (!run.ok()) return fail(run.status().to_string(), run.status().code() == StatusCode::failed_precondition ? 2 : 1);
  std::string metrics_path = o.metrics;
  if (metrics_path.empty() && spec->deployment.telemetry.sink == contract::TelemetrySink::local) {
    metrics_path = (std::filesystem::path(run->store_path).parent_path() / "metrics.prom").string();
  }
  if (!metrics_path.empty()) {
    Status written = write_file_atomically(metrics_path, assistant::render_run_metrics(*run));
    if (!written.ok()) return fail(written.to_string());
  }
  if (o.json) {
    print_json(o, *run, metrics_path);
  } else {
    print_text(o.question, *run, metrics_path, streamed);
  }
  return 0;
}

}  // namespace

void add_run_command(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("run", "Run a deployment from its scenario spec, enforcing its plan");
  cmd->add_option("spec", o->spec, "scenario spec (YAML)")->required();
  cmd->add_option("--question,-q", o->question,
                  "local-research: the question to answer (default: sample_question.txt beside the documents)");
  cmd->add_option("--model", o->model, "use this GGUF instead of the spec's generate model")
      ->check(CLI::ExistingFile);
  cmd->add_option("--embed-model", o->embed_model,
                  "use this GGUF instead of the spec's embed model (default store: one of its own, since a "
                  "store keeps one embedding model's vectors)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--store", o->store, "local-research: where to keep the index (default: ~/.cache/keel/<name>)");
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_option("--answer", o->answer,
                  "local-research: auto (the model answers unless keel eval measured it below the quality floor, "
                  "then sentences are quoted), generate or extract")
      ->check(CLI::IsMember(answer_mode_names()));
  cmd->add_option("--metrics", o->metrics,
                  "local-research: write the run's metrics (Prometheus text) here (default with telemetry sink "
                  "local: metrics.prom beside the index)");
  cmd->add_flag("--json", o->json, "print the outcome as JSON");
  VisionRunOptions& v = o->vision;
  cmd->add_option("--video", v.video, "mobile-vision: the video to classify (.y4m; - reads standard input)");
  cmd->add_option("--device", v.device, "mobile-vision: the device profile (default: this CPU only)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--slots", v.slots, "mobile-vision: run the active program of this update slots folder");
  cmd->add_option("--thermal-script", v.thermal_script,
                  "mobile-vision: temperatures, one per frame, instead of the device's sensors")
      ->check(CLI::ExistingFile);
  cmd->add_option("--labels", v.labels, "mobile-vision: the video's true labels ({\"labels\": [...]})")
      ->check(CLI::ExistingFile);
  cmd->add_option("--results", v.results, "mobile-vision: write one JSON line per frame here");
  cmd->add_option("--keep-frames", v.keep_frames,
                  "mobile-vision: store classified frames here (only with raw_input_retention: durable)");
  cmd->add_option("--fps", v.fps, "mobile-vision: full frame rate (default: slo.workload.rps; 0: unpaced)")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_flag("--inject-delegate-failure", v.delegate_failure,
                "mobile-vision fault injection: the device's accelerator delegate fails to prepare");
  cmd->add_option("--frames", v.max_frames, "mobile-vision: stop after this many frames (0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace keel::app
