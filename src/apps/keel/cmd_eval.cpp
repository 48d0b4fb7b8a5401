// keel eval local-research [--spec SPEC] [--questions FILE] [--k 5] [--answer MODE] [--record] [--json]
// keel eval enterprise-rag [--spec SPEC] [--questions FILE] [--pg-data DIR] [--json]: rag_eval.h
// Retrieval recall@k (BM25 and hybrid), answers with correct citations (judged against the gold
// spans), grounded citations and declining over a question set. --record measures the spec's
// generator in its own words and writes the figures beside it (answer_quality.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "apps/keel/answer_output.h"
#include "apps/keel/commands.h"
#include "apps/keel/eval_faults.h"
#include "apps/keel/example_paths.h"
#include "apps/keel/classifier_eval.h"
#include "apps/keel/field_eval.h"
#include "apps/keel/rag_eval.h"
#include "assistant/answer_quality.h"
#include "assistant/evaluation.h"
#include "assistant/local_research_run.h"
#include "contract/checks.h"
#include "contract/network_namespace.h"
#include "contract/spec_parser.h"
#include "context/indexer.h"
#include "core/json.h"
#include "core/text_table.h"

#include <fmt/format.h>

namespace keel::app {

namespace {

struct Options {
  std::string scenario, spec, questions, store, answer = "auto", pg_data, work_dir;
  int k = 5, threads = 0;
  double quality_floor = 0.5;
  bool json = false, record = false;
  bool faults = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel eval: %s\n", message.c_str());
  return 1;
}

// The spec's first generate and embed models ("" when it has none).
std::pair<std::string, std::string> spec_models(const contract::Spec& spec) {
  std::string model, embed;
  for (const auto& m : spec.deployment.models) {
    if (m.role == contract::ModelRole::generate && model.empty()) model = contract::resolve_spec_path(spec, m.path);
    if (m.role == contract::ModelRole::embed && embed.empty()) embed = contract::resolve_spec_path(spec, m.path);
  }
  return {model, embed};
}

// Indexes the documents into `store` (a fresh temporary one when empty) and opens the assistant.
Result<std::unique_ptr<assistant::ResearchAssistant>> open_assistant(const Options& o, const std::string& docs,
                                                                    const std::string& model, const std::string& embed) {
  std::string store = o.store;
  if (store.empty()) {
    char dir[] = "/tmp/keel-eval-XXXXXX";
    if (!mkdtemp(dir)) return Status::unavailable("cannot create a temporary folder");
    store = std::string(dir) + "/store.db";
  }
  context::IndexOptions index;
  index.docs_dir = docs;
  index.store_path = store;
  if (!embed.empty()) index.embed_model = embed;
  index.threads = o.threads;
  KEEL_RETURN_IF_ERROR(context::index_documents(index).status());
  assistant::AssistantOptions a;
  a.store_path = store;
  a.docs_dir = docs;
  a.model_path = model;
  if (!embed.empty()) a.embed_model = embed;
  a.threads = o.threads;
  a.k = o.k;
  a.answer_mode = parse_answer_mode(o.answer);
  a.quality_floor = o.quality_floor;
  if (o.record) {
    if (a.answer_mode == assistant::AnswerMode::extract) {
      return Status::invalid_argument("--record measures the model: not with --answer extract");
    }
    a.answer_mode = assistant::AnswerMode::generate;
  }
  return assistant::ResearchAssistant::open(a);
}

Status record_quality(const std::string& model, const assistant::EvalReport& r) {
  assistant::AnswerQualityRecord record;
  record.questions = r.answerable + r.unanswerable;
  record.answerable = r.answerable;
  record.answered_correctly = r.answered_correctly;
  record.unanswerable_declined = r.unanswerable_declined;
  record.measured_at_unix_s = static_cast<int64_t>(std::time(nullptr));
  KEEL_RETURN_IF_ERROR(assistant::write_answer_quality(model, record));
  std::fprintf(stderr, "keel eval: recorded in %s\n", assistant::answer_quality_path(model).c_str());
  return Status::ok_status();
}

void print_json(const assistant::EvalReport& r) {
  Json rows = Json::array();
  for (const auto& row : r.rows) {
    rows.push_back({{"id", row.id}, {"answerable", row.answerable}, {"bm25_hit", row.bm25_hit},
                    {"hybrid_hit", row.hybrid_hit}, {"declined", row.declined}, {"extracted", row.extracted},
                    {"answered_correctly", row.answered_correctly}, {"citations_shown", row.citations_shown},
                    {"citations_grounded", row.citations_grounded}, {"citations_correct", row.citations_correct},
                    {"citations_emitted", row.citations_emitted}, {"keywords_found", row.keywords_found},
                    {"support", row.support}, {"answer", row.answer}});
  }
  Json j = {{"scenario", "local-research"},
            {"answer_mode", r.answer_mode},
            {"questions", r.answerable + r.unanswerable},
            {"answerable", r.answerable},
            {"unanswerable", r.unanswerable},
            {"k", r.k},
            {"recall_at_k", {{"bm25", r.recall_bm25}, {"hybrid", r.hybrid_available ? Json(r.recall_hybrid) : Json(nullptr)}}},
            {"answered_correctly", r.answered_correctly},
            {"answerable_declined", r.answerable_declined},
            {"unanswerable_declined", r.unanswerable_declined},
            {"citation_validity", r.citation_validity},
            {"citations_emitted", r.citations_emitted},
            {"citations_shown", r.citations_shown},
            {"citation_grounded", r.citation_grounded},
            {"citation_correct", r.citation_correct},
            {"keyword_hit_rate", r.keyword_hit_rate},
            {"latency_ms", {{"p50", r.latency_p50_ms}, {"p95", r.latency_p95_ms}}},
            {"rows", rows}};
  std::printf("%s\n", dump_json(j, 2).c_str());
}

void print_table(const assistant::EvalReport& r) {
  TextTable t({"measure", "value"});
  t.right_align(1);
  auto pct = [](double v) { return fmt::format("{:.1f}%", 100 * v); };
  t.add_row({fmt::format("recall@{} BM25", r.k), pct(r.recall_bm25)});
  t.add_row({fmt::format("recall@{} hybrid", r.k), r.hybrid_available ? pct(r.recall_hybrid) : "n/a (no embedding model)"});
  t.add_row({"answerable answered correctly (gold citation and keyword)", pct(r.answered_correctly)});
  t.add_row({"answerable questions declined", pct(r.answerable_declined)});
  t.add_row({"unanswerable questions declined", pct(r.unanswerable_declined)});
  t.add_row({"citations kept by the checker (of emitted)", fmt::format("{} ({} emitted)", pct(r.citation_validity), r.citations_emitted)});
  t.add_row({"shown citations quoting the document's bytes", fmt::format("{} ({} shown)", pct(r.citation_grounded), r.citations_shown)});
  t.add_row({"shown citations inside a gold span", pct(r.citation_correct)});
  t.add_row({"answers containing an expected keyword", pct(r.keyword_hit_rate)});
  t.add_row({"latency p50 / p95", fmt::format("{:.0f} / {:.0f} ms", r.latency_p50_ms, r.latency_p95_ms)});
  std::printf("local-research evaluation (%s): %d questions (%d answerable, %d unanswerable)\n%s",
              r.answer_mode == "extract" ? "answers quoted from the documents" : "answers written by the model",
              r.answerable + r.unanswerable, r.answerable, r.unanswerable, t.render().c_str());
}

int eval_questions(const Options& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message() + " (pass --spec)");
  if (spec->deployment.egress.none) {
    auto isolation = contract::isolate_for_egress_none();
    if (!isolation.ok()) return fail(isolation.status().message());
  }
  auto folder = contract::document_folder(*spec);
  if (!folder.ok()) return fail(folder.status().message());
  const std::string& docs = *folder;
  std::string questions =
      o.questions.empty() ? (std::filesystem::path(docs).parent_path() / "questions.json").string() : o.questions;
  auto qs = assistant::load_questions(questions, docs);
  if (!qs.ok()) return fail(qs.status().message());
  auto [model, embed] = spec_models(*spec);
  auto assistant = open_assistant(o, docs, model, embed);
  if (!assistant.ok()) return fail(assistant.status().message());
  std::fprintf(stderr, "keel eval: answer mode: %s\n", (*assistant)->answer_mode_reason().c_str());
  auto result = assistant::evaluate(**assistant, *qs, o.k, [&](const assistant::EvalRow& row, size_t i, size_t n) {
    std::string outcome = row.declined ? std::string("declined")
                                       : fmt::format("answered ({} citations, {} inside a gold span)",
                                                     row.citations_shown, row.citations_correct);
    std::fprintf(stderr, "[%zu/%zu] %s %s%s\n", i, n, row.id.c_str(), outcome.c_str(), row.answerable ? "" : " (unanswerable)");
  });
  if (!result.ok()) return fail(result.status().message());
  if (o.record) {
    if (Status recorded = record_quality(model, *result); !recorded.ok()) return fail(recorded.message());
  }
  if (o.json) {
    print_json(*result);
  } else {
    print_table(*result);
  }
  // A shown citation whose quote is not the document's text is a defect, whatever the model.
  return result->citation_grounded == 1.0 ? 0 : 2;
}

}  // namespace

void add_eval_command(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("eval", "Evaluate a scenario on its question set");
  cmd->add_option("scenario", o->scenario, "scenario id (local-research, enterprise-rag, hybrid-field, browser-classifier; durable-agent with --faults)")->required()->check(CLI::IsMember({"local-research", "enterprise-rag", "hybrid-field", "browser-classifier", "durable-agent"}));
  cmd->add_option("--spec", o->spec, "scenario spec (default: the bundled example of the scenario)");
  cmd->add_option("--questions", o->questions, "question set (default: questions.json beside the spec's documents; hybrid-field: hybrid-field/eval.json; browser-classifier: browser-classifier/heldout.jsonl)");
  cmd->add_option("--work-dir", o->work_dir, "hybrid-field: keep the devices' stores and the cluster here (default: a temporary folder)");
  cmd->add_option("--store", o->store, "index location (default: a fresh temporary store)");
  cmd->add_option("--k", o->k, "passages retrieved per question")->check(CLI::Range(1, 20));
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_option("--answer", o->answer,
                  "how answers are made: auto, generate (the model) or extract (quotes; enterprise-rag: templates)")
      ->check(CLI::IsMember(answer_mode_names()));
  cmd->add_option("--quality-floor", o->quality_floor,
                  "auto: the model answers only if its recorded share of correctly cited answers reaches this")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--record", o->record,
                "evaluate the spec's generator in its own words and record the figures beside the model "
                "(<model>.keel-eval.json), for --answer auto");
  cmd->add_option("--pg-data", o->pg_data,
                  "enterprise-rag: run PostgreSQL in this folder (default: a temporary one); the sample "
                  "warehouse is (re)created in it");
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->add_flag("--faults", o->faults, "inject the scenario's faults into its real components and report the recovery");
  cmd->callback([o, &exit_code, cmd] {
    const bool spec_given = cmd->get_option("--spec")->count() > 0;
    if (o->faults) {
      exit_code = run_fault_eval(o->scenario, spec_given ? o->spec : "", o->json);
      return;
    }
    if (o->scenario == "browser-classifier") {
      exit_code = run_classifier_eval(
          {spec_given ? o->spec : bundled_example("examples/browser-classifier.yaml"), o->questions, o->json});
      return;
    }
    if (o->scenario == "hybrid-field") {
      exit_code = run_field_eval({spec_given ? o->spec : bundled_example("examples/hybrid-field.yaml"), o->questions,
                                  o->work_dir, o->json});
      return;
    }
    if (o->scenario == "enterprise-rag") {
      RagEvalOptions rag{spec_given ? o->spec : bundled_example("examples/enterprise-rag.yaml"), o->questions,
                         o->pg_data, o->json};
      rag.composer.mode = o->answer == "generate" ? "model" : o->answer == "extract" ? "template" : "auto";
      rag.composer.quality_floor = o->quality_floor;
      exit_code = run_enterprise_rag_eval(rag);
      return;
    }
    if (o->scenario != "local-research") {
      std::fprintf(stderr, "keel eval: %s has no question set; `keel eval %s --faults` runs its fault injections\n",
                   o->scenario.c_str(), o->scenario.c_str());
      exit_code = 1;
      return;
    }
    if (!spec_given) o->spec = bundled_example("examples/local-research.yaml");
    exit_code = eval_questions(*o);
  });
}

}  // namespace keel::app
