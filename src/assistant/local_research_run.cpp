#include "assistant/local_research_run.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "context/store.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "core/file_io.h"

namespace keel::assistant {

namespace {

// Candidates for a role: the first model with that role, then its approved fallbacks when the
// spec says to fall back.
std::vector<engine::ModelCandidate> candidates_for(const contract::Spec& spec, contract::ModelRole role) {
  std::vector<engine::ModelCandidate> out;
  const contract::ModelSpec* primary = nullptr;
  for (const auto& m : spec.deployment.models) {
    if (m.role == role && m.runs == contract::ModelPlacement::local) {
      primary = &m;
      break;
    }
  }
  if (!primary) return out;
  out.push_back({primary->id, contract::resolve_spec_path(spec, primary->path), primary->max_ram_mb});
  if (spec.failure.on_model_unfit == contract::OnModelUnfit::fallback) {
    for (const auto& id : primary->fallbacks) {
      if (const auto* f = spec.find_model(id)) {
        out.push_back({f->id, contract::resolve_spec_path(spec, f->path), f->max_ram_mb});
      }
    }
  }
  return out;
}

void say(const LocalResearchRunOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

// Under egress: none, the run's own network namespace (where permitted) and the seccomp guard;
// then the allow-list that binds every connection Keel opens. Returns the meter of the private
// namespace, when there is one.
Result<std::optional<contract::OutboundMeter>> guard_egress(const contract::Spec& spec, LocalResearchRun& run,
                                                            const LocalResearchRunOptions& o) {
  std::optional<contract::OutboundMeter> meter;
  if (spec.deployment.egress.none) {
    KEEL_ASSIGN_OR_RETURN(contract::EgressIsolation isolation, contract::isolate_for_egress_none());
    run.egress_guarded = true;
    meter = isolation.meter;
    run.outbound_note = isolation.private_namespace
                            ? "kernel transmit counters of the run's private network namespace"
                            : "not measured: no private network namespace (" + isolation.note + ")";
    say(o, isolation.private_namespace
               ? "egress: the run has a network namespace of its own (no interface up) and Internet sockets are refused"
               : "egress guard installed: Internet sockets are refused (" + run.outbound_note + ")");
  }
  contract::restrict_egress_to({&spec});  // an allow-list binds every connection Keel opens
  return meter;
}

// failed_precondition naming every failed check.
Status refuse_failed_checks(const contract::Spec& spec) {
  auto checks = contract::run_checks(spec);
  std::vector<std::string> failed;
  for (const auto& c : checks) {
    if (c.status == contract::CheckStatus::fail) failed.push_back(c.id + " " + c.message);
  }
  if (!failed.empty()) {
    return Status::failed_precondition(fmt::format("the spec is refused:\n  {}", fmt::join(failed, "\n  ")));
  }
  return Status();
}

// The generation model (required) and the embedding model (when the spec names one) that fit
// memory, falling back as the spec allows.
Status choose_models(const contract::Spec& spec, LocalResearchRun& run, const LocalResearchRunOptions& o) {
  engine::ContextOptions fit_options;
  fit_options.n_ctx = 2048;
  auto generate = candidates_for(spec, contract::ModelRole::generate);
  if (generate.empty()) return Status::invalid_argument("the spec names no local model with role generate");
  KEEL_ASSIGN_OR_RETURN(run.generate_model, engine::choose_model(generate, fit_options));
  say(o, fmt::format("model {}: {}{}", run.generate_model.chosen.id, run.generate_model.estimate.describe(),
                     run.generate_model.fell_back ? " (approved fallback)" : ""));
  auto embed = candidates_for(spec, contract::ModelRole::embed);
  if (!embed.empty()) {
    engine::ContextOptions embed_fit;
    embed_fit.n_ctx = 512;
    KEEL_ASSIGN_OR_RETURN(run.embed_model, engine::choose_model(embed, embed_fit));
    say(o, fmt::format("embedding model {}: {}", run.embed_model->chosen.id, run.embed_model->estimate.describe()));
  }
  return Status();
}

// Indexes the spec's document folder into the store (Keel's cache unless the options name
// one); returns where.
Result<context::IndexOptions> index_document_folder(const contract::Spec& spec, LocalResearchRun& run,
                                                    const LocalResearchRunOptions& o) {
  context::IndexOptions index;
  KEEL_ASSIGN_OR_RETURN(index.docs_dir, contract::document_folder(spec));
  index.store_path = o.store_path.empty() ? context::default_store_path(spec.name) : o.store_path;
  if (run.embed_model) index.embed_model = run.embed_model->chosen.path;
  index.threads = o.threads;
  run.store_path = index.store_path;
  say(o, fmt::format("indexing {} into {}", index.docs_dir, index.store_path));
  auto indexed = context::index_documents(index);
  if (!indexed.ok() && o.store_path.empty() && indexed.status().code() == StatusCode::failed_precondition &&
      indexed.status().message().find("embedding model") != std::string::npos) {
    // The default store is Keel's own cache: rebuild it for the new embedding model. A store
    // the user named is never deleted; that case stays an error.
    say(o, "the cached index was built with another embedding model: rebuilding it");
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", ".hnsw"}) std::filesystem::remove(index.store_path + suffix, ec);
    indexed = context::index_documents(index);
  }
  KEEL_ASSIGN_OR_RETURN(run.index, std::move(indexed));
  say(o, fmt::format("index: {} indexed, {} unchanged, {} removed, {} skipped; {} documents, {} chunks",
                     run.index.indexed, run.index.unchanged + run.index.touched, run.index.removed,
                     run.index.skipped.size(), run.index.documents_in_store, run.index.chunks_in_store));
  return index;
}

// Answers the question from the read-only store with the chosen models.
Status answer_question(const context::IndexOptions& index, LocalResearchRun& run, const LocalResearchRunOptions& o) {
  AssistantOptions a;
  a.store_path = index.store_path;
  a.docs_dir = index.docs_dir;
  a.model_path = run.generate_model.chosen.path;
  if (run.embed_model) a.embed_model = run.embed_model->chosen.path;
  a.threads = o.threads;
  a.answer_mode = o.answer_mode;
  KEEL_ASSIGN_OR_RETURN(auto assistant, ResearchAssistant::open(a));
  run.answer_mode_reason = assistant->answer_mode_reason();
  say(o, "answer mode: " + run.answer_mode_reason);
  say(o, fmt::format("answering from the read-only store: {}", o.question));
  KEEL_ASSIGN_OR_RETURN(run.answer, assistant->ask(o.question, o.on_text));
  return Status();
}

}  // namespace

Result<std::string> sample_question(const contract::Spec& spec) {
  KEEL_ASSIGN_OR_RETURN(std::string docs, contract::document_folder(spec));
  std::string file = (std::filesystem::path(docs).parent_path() / "sample_question.txt").string();
  auto text = read_file(file);
  if (!text.ok()) {
    return Status::not_found(fmt::format("no question given and no sample question at {} ({})", file,
                                         text.status().message()));
  }
  std::string question = text->substr(0, text->find('\n'));
  while (!question.empty() && (question.back() == '\r' || question.back() == ' ')) question.pop_back();
  if (question.empty()) return Status::not_found(fmt::format("{} is empty", file));
  return question;
}

Result<LocalResearchRun> run_local_research(const contract::Spec& spec, const LocalResearchRunOptions& o) {
  if (spec.scenario != contract::ScenarioId::local_research) {
    return Status::invalid_argument("this runner is for scenario local-research");
  }
  LocalResearchRun run;
  KEEL_ASSIGN_OR_RETURN(std::optional<contract::OutboundMeter> meter, guard_egress(spec, run, o));
  // The checks read the model files (K009 hashes them): after the guard, never before.
  KEEL_RETURN_IF_ERROR(refuse_failed_checks(spec));
  KEEL_RETURN_IF_ERROR(choose_models(spec, run, o));
  KEEL_ASSIGN_OR_RETURN(context::IndexOptions index, index_document_folder(spec, run, o));
  KEEL_RETURN_IF_ERROR(answer_question(index, run, o));
  if (meter) {
    KEEL_ASSIGN_OR_RETURN(run.outbound, meter->sent());
  }
  return run;
}

}  // namespace keel::assistant
