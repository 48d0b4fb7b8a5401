#include "apps/keel/vision_run.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "core/file_io.h"
#include "core/json.h"
#include "core/metrics.h"
#include "core/text_table.h"
#include "edge/device_profile.h"
#include "edge/program_slots.h"
#include "edge/vision_pipeline.h"

namespace keel::app {
namespace {

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "keel run: %s\n", message.c_str());
  return code;
}

struct Models {
  std::optional<edge::ImageClassifier> main, small;
  std::string main_name, small_name;
  double coverage = 0;
  std::string how;  //!< how the main program was chosen
};

const contract::ModelSpec* find_model(const contract::Spec& spec, const std::string& id) {
  for (const auto& m : spec.deployment.models)
    if (m.id == id) return &m;
  return nullptr;
}

// The spec's main classifier: a classify model that is no other model's fallback.
const contract::ModelSpec* main_model(const contract::Spec& spec) {
  for (const auto& m : spec.deployment.models) {
    if (m.role != contract::ModelRole::classify || m.path.empty()) continue;
    bool is_fallback = false;
    for (const auto& other : spec.deployment.models)
      for (const auto& f : other.fallbacks) is_fallback |= f == m.id;
    if (!is_fallback) return &m;
  }
  return nullptr;
}

// Through the program's file form, so the run uses exactly what a device would load.
Result<edge::ImageClassifier> prepared_classifier(const edge::PreparedProgram& p) {
  KEEL_ASSIGN_OR_RETURN(edge::LoadedProgram loaded,
                        edge::parse_program(edge::program_bytes(p), "the prepared program"));
  return edge::ImageClassifier::from_program(std::move(loaded));
}

Result<Models> load_models(const contract::Spec& spec, const VisionRunOptions& o) {
  Models out;
  edge::DeviceProfile device = edge::portable_only_profile();
  if (!o.device.empty()) {
    KEEL_ASSIGN_OR_RETURN(device, edge::load_device_profile(o.device));
  }
  std::string injected;
  if (o.delegate_failure && device.delegates.size() > 1) {
    // The accelerator's driver refuses to prepare: every partition falls to the CPU kernels.
    edge::DeviceProfile cpu = edge::portable_only_profile();
    cpu.name = device.name;
    cpu.device_class = device.device_class;
    device = cpu;
    injected = " (injected: the accelerator delegate failed to prepare)";
  }
  const contract::ModelSpec* main = main_model(spec);
  if (!main) return Status::invalid_argument("the spec names no classify model with a path");
  const contract::ModelSpec* small =
      main->fallbacks.empty() ? nullptr : find_model(spec, main->fallbacks.front());
  std::optional<std::string> small_bytes;
  if (small && !small->path.empty()) {
    KEEL_ASSIGN_OR_RETURN(std::string b, read_file(contract::resolve_spec_path(spec, small->path), 512ull << 20));
    small_bytes = std::move(b);
  }
  // The smaller model the thermal governor may switch to, prepared for the CPU.
  auto add_small = [&]() -> Status {
    if (!small_bytes) return Status();
    KEEL_ASSIGN_OR_RETURN(edge::PreparedProgram sp,
                          edge::prepare_program(*small_bytes, edge::portable_only_profile(), {}));
    KEEL_ASSIGN_OR_RETURN(edge::ImageClassifier c, prepared_classifier(sp));
    out.small.emplace(std::move(c));
    out.small_name = small->id;
    return Status();
  };
  if (!o.slots.empty()) {
    KEEL_ASSIGN_OR_RETURN(edge::ProgramSlots slots, edge::ProgramSlots::open(o.slots));
    for (const auto& r : slots.recoveries()) std::fprintf(stderr, "keel run: slots recovered: %s\n", r.c_str());
    if (auto path = slots.active_program_path()) {
      KEEL_ASSIGN_OR_RETURN(edge::LoadedProgram p, edge::load_program(*path));
      out.coverage = p.header["coverage"].value("macs", 0.0);
      const auto& record = slots.slots().at(slots.active());
      out.main_name = fmt::format("{} v{}", record.model_id, record.version);
      out.how = fmt::format("the updated program in slot {} ({})", slots.active(), *path);
      KEEL_ASSIGN_OR_RETURN(edge::ImageClassifier c, edge::ImageClassifier::from_program(std::move(p)));
      out.main.emplace(std::move(c));
      KEEL_RETURN_IF_ERROR(add_small());
      return out;
    }
  }
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(contract::resolve_spec_path(spec, main->path), 512ull << 20));
  edge::ProgramBounds bounds{spec.edge.min_delegate_coverage, spec.edge.max_partitions};
  const bool may_fall_back = spec.failure.on_model_unfit == contract::OnModelUnfit::fallback;
  KEEL_ASSIGN_OR_RETURN(edge::BoundedPreparation prepared,
                        edge::prepare_within_bounds(std::move(bytes), may_fall_back ? small_bytes : std::nullopt,
                                                    device, {}, bounds));
  // Model fit: the weights and the planned activation arena within the model's max_ram_mb.
  const auto footprint = [](const edge::PreparedProgram& p) {
    return static_cast<int64_t>(p.model_bytes.size()) + p.memory.arena_bytes;
  };
  const contract::ModelSpec* chosen = prepared.refused ? small : main;
  if (chosen->max_ram_mb && footprint(prepared.program) > *chosen->max_ram_mb * (int64_t{1} << 20)) {
    const std::string why = fmt::format("{} needs {} bytes (weights + activation arena), over max_ram_mb {} MB",
                                        chosen->id, footprint(prepared.program), *chosen->max_ram_mb);
    if (prepared.refused || !small_bytes || !may_fall_back)
      return Status::failed_precondition("refused: " + why);
    KEEL_ASSIGN_OR_RETURN(edge::PreparedProgram sp, edge::prepare_program(*small_bytes, edge::portable_only_profile(), {}));
    if (small->max_ram_mb && footprint(sp) > *small->max_ram_mb * (int64_t{1} << 20))
      return Status::failed_precondition(fmt::format("refused: {}; the fallback {} does not fit its max_ram_mb either", why, small->id));
    prepared.refused = std::move(prepared.program);
    prepared.program = std::move(sp);
    prepared.refusal = why;
  }
  out.coverage = prepared.program.partitions.mac_coverage;
  KEEL_ASSIGN_OR_RETURN(edge::ImageClassifier c, prepared_classifier(prepared.program));
  out.main.emplace(std::move(c));
  if (prepared.refused) {
    out.main_name = small->id;
    out.how = fmt::format("{} for the CPU: {} was refused on {}{} ({})", small->id, main->id,
                          device.name, injected, prepared.refusal);
  } else {
    KEEL_RETURN_IF_ERROR(add_small());
    out.main_name = main->id;
    out.how = fmt::format(
        "{} prepared for {} ({:.1f}% of MACs planned on an accelerator delegate{})", main->id,
        device.name, 100 * out.coverage,
        prepared.program.partitions.has_accelerator
            ? "; every partition runs on the portable CPU kernels here"
            : "");
  }
  return out;
}

Result<std::vector<double>> read_thermal_script(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, 16 << 20));
  std::vector<double> out;
  std::istringstream in(text);
  for (std::string token; in >> token;) {
    try {
      out.push_back(std::stod(token));
    } catch (const std::exception&) {
      return Status::invalid_argument(fmt::format("{}: '{}' is not a temperature", path, token));
    }
  }
  if (out.empty()) return Status::invalid_argument(path + ": no temperatures");
  return out;
}

std::string render_metrics(const edge::PipelineReport& r, const Models& m, double agreement,
                           bool has_agreement, const std::map<std::string, int64_t>& updates) {
  MetricsRegistry reg;
  reg.gauge("keel_delegate_coverage_ratio", "Share of the program's MACs on an accelerator delegate")
      .get()
      .set(m.coverage);
  auto& h = reg.histogram("keel_inference_seconds", "Frame arrival to result", latency_seconds_buckets()).get();
  for (double ms : r.latencies_ms) h.observe(ms / 1000);
  reg.counter("keel_energy_proxy_joules_total", "Energy used by the run", {"source"})
      .labels({r.energy_source})
      .inc(r.energy_joules);
  reg.gauge("keel_thermal_state", "The governor's highest level in the run (0 full rate .. 3)")
      .get()
      .set(r.max_thermal_level);
  reg.gauge("keel_rss_peak_bytes", "Peak resident memory of the process").get().set(static_cast<double>(r.peak_rss_bytes));
  auto& u = reg.counter("keel_model_updates_total", "Program update outcomes on this device", {"outcome"});
  for (const auto& [k, v] : updates) u.labels({k}).inc(static_cast<double>(v));
  if (has_agreement)
    reg.gauge("keel_quality_agreement_ratio", "Share of classified frames agreeing with the video's labels")
        .get()
        .set(agreement);
  return reg.render();
}

}  // namespace

int run_mobile_vision(const contract::Spec& spec, const VisionRunOptions& o) {
  if (!o.keep_frames.empty() && spec.data.raw_input_retention == contract::Retention::none)
    return fail("refused: the spec says raw_input_retention: none, so frames are never stored; "
                "declare durable to keep them",
                2);
  if (Status guard = contract::install_egress_guard(contract::EgressGuardProfile::no_sockets); !guard.ok())
    return fail("cannot install the egress guard: " + guard.message());
  for (const auto& c : contract::run_checks(spec)) {
    if (c.status == contract::CheckStatus::fail) return fail("the spec is refused: " + c.id + " " + c.message, 2);
  }
  auto models = load_models(spec, o);
  if (!models.ok())
    return fail(models.status().message(), models.status().code() == StatusCode::failed_precondition ? 2 : 1);
  std::fprintf(stderr, "keel run: model: %s\n", models->how.c_str());
  auto video = edge::open_video(o.video);
  if (!video.ok()) return fail(video.status().message());

  std::unique_ptr<edge::ThermalSensor> sensor;
  if (!o.thermal_script.empty()) {
    auto temps = read_thermal_script(o.thermal_script);
    if (!temps.ok()) return fail(temps.status().message());
    sensor = std::make_unique<edge::ScriptedThermalSensor>(std::move(*temps));
  } else {
    sensor = std::make_unique<edge::SysfsThermalSensor>();
  }
  edge::ThermalGovernor governor({spec.edge.throttle_celsius, spec.edge.critical_celsius, 3},
                                 models->small.has_value());

  std::vector<std::string> truth;
  if (!o.labels.empty()) {
    auto text = read_file(o.labels, 16 << 20);
    if (!text.ok()) return fail(text.status().message());
    auto j = parse_json(*text);
    if (!j.ok() || !j->is_object() || !(*j)["labels"].is_array())
      return fail(o.labels + ": expected {\"labels\": [one per frame]}");
    for (const auto& l : (*j)["labels"]) truth.push_back(l.is_string() ? l.get<std::string>() : "");
  }

  std::unique_ptr<std::ofstream> results;
  if (!o.results.empty()) {
    results = std::make_unique<std::ofstream>(o.results, std::ios::trunc);
    if (!*results) return fail("cannot write " + o.results);
  }
  edge::PipelineOptions options;
  const double spec_fps = spec.slo.workload ? spec.slo.workload->rps.value_or(0) : 0;
  options.fps = o.fps >= 0 ? o.fps : (spec_fps > 0 ? spec_fps : (*video)->format().fps);
  options.pace = options.fps > 0;
  options.keep_frames_dir = o.keep_frames;
  options.max_frames = o.max_frames;
  edge::PipelineModels pm{&*models->main, models->main_name,
                          models->small ? &*models->small : nullptr, models->small_name};
  int64_t agree = 0, judged = 0;
  auto report = edge::run_vision_pipeline(
      **video, pm, *sensor, governor, options, [&](const edge::FrameOutcome& f) {
        if (f.classified && static_cast<size_t>(f.frame) < truth.size()) {
          ++judged;
          agree += truth[static_cast<size_t>(f.frame)] == f.label;
        }
        if (results) {
          Json line{{"frame", f.frame}, {"classified", f.classified}, {"thermal_level", f.thermal_level}};
          if (f.late) line["late"] = true;
          if (f.classified) {
            line["label"] = f.label;
            line["score"] = f.score;
            line["model"] = f.model;
            line["latency_ms"] = f.latency_ms;
          }
          *results << dump_json(line) << "\n";
        }
        if (f.frame > 0 && f.frame % 50 == 0) std::fprintf(stderr, "keel run: %lld frames\n", static_cast<long long>(f.frame));
      });
  if (!report.ok()) return fail(report.status().message());
  const double agreement = judged ? static_cast<double>(agree) / static_cast<double>(judged) : 0;
  std::map<std::string, int64_t> updates;
  if (!o.slots.empty()) {
    if (auto slots = edge::ProgramSlots::open(o.slots); slots.ok()) {
      if (auto counts = slots->outcome_counts(); counts.ok()) updates = *counts;
    }
  }
  if (!o.metrics.empty()) {
    Status written = write_file_atomically(o.metrics, render_metrics(*report, *models, agreement, judged > 0, updates));
    if (!written.ok()) return fail(written.message());
  }
  const auto& r = *report;
  Json events = Json::array();
  for (const auto& e : r.thermal_events) events.push_back({{"frame", e.frame}, {"level", e.level}, {"reason", e.reason}});
  if (o.json) {
    Json j{{"model", models->main_name},
           {"program", models->how},
           {"delegate_coverage", models->coverage},
           {"frames_read", r.frames_read},
           {"frames_classified", r.frames_classified},
           {"frames_dropped", r.frames_dropped},
           {"frames_late", r.frames_late},
           {"frames_by_model", r.frames_by_model},
           {"p50_ms", r.p50_ms},
           {"p99_ms", r.p99_ms},
           {"fps_target", options.fps},
           {"sustained_fps", r.sustained_fps},
           {"energy_joules", r.energy_joules},
           {"joules_per_frame", r.joules_per_frame},
           {"energy_source", r.energy_source},
           {"peak_rss_bytes", r.peak_rss_bytes},
           {"max_thermal_level", r.max_thermal_level},
           {"thermal_events", events}};
    if (judged) j["agreement"] = agreement;
    std::printf("%s\n", dump_json(j, 2).c_str());
    return 0;
  }
  TextTable t({"measure", "value"});
  t.add_row({"program", models->how});
  t.add_row({"frames", fmt::format("{} read, {} classified, {} dropped by the thermal budget, {} missed "
                                   "(the camera's next frame replaced them while one was classified)",
                                   r.frames_read, r.frames_classified, r.frames_dropped, r.frames_late)});
  for (const auto& [model, n] : r.frames_by_model) t.add_row({"frames on " + model, std::to_string(n)});
  t.add_row({"latency per frame", fmt::format("p50 {:.2f} ms, p99 {:.2f} ms", r.p50_ms, r.p99_ms)});
  t.add_row({"frame rate", fmt::format("{:.1f} fps sustained (target {:.1f})", r.sustained_fps, options.fps)});
  t.add_row({"energy", fmt::format("{:.3f} J, {:.2f} mJ per frame ({})", r.energy_joules,
                                   1000 * r.joules_per_frame, r.energy_source)});
  t.add_row({"peak RSS", fmt::format("{:.1f} MiB", static_cast<double>(r.peak_rss_bytes) / (1 << 20))});
  t.add_row({"thermal", fmt::format("highest level {} ({} governor events)", r.max_thermal_level, r.thermal_events.size())});
  if (judged) t.add_row({"agreement with labels", fmt::format("{:.1f}% ({}/{})", 100 * agreement, agree, judged)});
  std::printf("%s", t.render().c_str());
  for (const auto& e : r.thermal_events)
    std::printf("  frame %lld: %s\n", static_cast<long long>(e.frame), e.reason.c_str());
  return 0;
}

}  // namespace keel::app
