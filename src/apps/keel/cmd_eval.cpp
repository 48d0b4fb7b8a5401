// keel eval local-research [--spec SPEC] [--questions FILE] [--k 5] [--json]
// Retrieval recall@k (BM25 and hybrid), citation validity and declining over a question set.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/keel/commands.h"
#include "assistant/evaluation.h"
#include "assistant/local_research_run.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "context/indexer.h"
#include "core/json.h"
#include "core/text_table.h"

#include <fmt/format.h>

namespace keel::app {

void add_eval_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string scenario, spec = "examples/local-research.yaml", questions, store;
    int k = 5, threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("eval", "Evaluate a scenario on its question set");
  cmd->add_option("scenario", o->scenario, "scenario id (local-research)")->required()->check(CLI::IsMember({"local-research"}));
  cmd->add_option("--spec", o->spec, "scenario spec (default examples/local-research.yaml)");
  cmd->add_option("--questions", o->questions, "question set (default: questions.json beside the spec's documents)");
  cmd->add_option("--store", o->store, "index location (default: a fresh temporary store)");
  cmd->add_option("--k", o->k, "passages retrieved per question")->check(CLI::Range(1, 20));
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->callback([o, &exit_code] {
    auto fail = [&](const std::string& message) {
      std::fprintf(stderr, "keel eval: %s\n", message.c_str());
      exit_code = 1;
    };
    auto spec = contract::load_spec(o->spec);
    if (!spec.ok()) return fail(spec.status().message() + " (pass --spec)");
    if (spec->deployment.egress.none) {
      Status guard = contract::install_egress_guard();
      if (!guard.ok()) return fail(guard.message());
    }
    const contract::DataSource* folder = nullptr;
    for (const auto& s : spec->data.sources) {
      if (s.kind == contract::SourceKind::folder) folder = &s;
    }
    if (!folder) return fail("the spec has no folder to evaluate on");
    std::string docs = contract::resolve_spec_path(*spec, folder->path);
    std::string questions = o->questions.empty()
                                ? (std::filesystem::path(docs).parent_path() / "questions.json").string()
                                : o->questions;
    auto qs = assistant::load_questions(questions);
    if (!qs.ok()) return fail(qs.status().message());
    std::string model, embed;
    for (const auto& m : spec->deployment.models) {
      if (m.role == contract::ModelRole::generate && model.empty()) model = contract::resolve_spec_path(*spec, m.path);
      if (m.role == contract::ModelRole::embed && embed.empty()) embed = contract::resolve_spec_path(*spec, m.path);
    }
    std::string store = o->store;
    if (store.empty()) {
      char dir[] = "/tmp/keel-eval-XXXXXX";
      if (!mkdtemp(dir)) return fail("cannot create a temporary folder");
      store = std::string(dir) + "/store.db";
    }
    context::IndexOptions index;
    index.docs_dir = docs;
    index.store_path = store;
    if (!embed.empty()) index.embed_model = embed;
    index.threads = o->threads;
    auto report = context::index_documents(index);
    if (!report.ok()) return fail(report.status().message());
    assistant::AssistantOptions a;
    a.store_path = store;
    a.docs_dir = docs;
    a.model_path = model;
    if (!embed.empty()) a.embed_model = embed;
    a.threads = o->threads;
    a.k = o->k;
    auto assistant = assistant::ResearchAssistant::open(a);
    if (!assistant.ok()) return fail(assistant.status().message());
    auto result = assistant::evaluate(**assistant, *qs, o->k, [&](const assistant::EvalRow& row, size_t i, size_t n) {
      std::fprintf(stderr, "[%zu/%zu] %s %s%s\n", i, n, row.id.c_str(),
                   row.declined ? "declined" : fmt::format("answered ({} valid citations)", row.citations_valid).c_str(),
                   row.answerable ? "" : " (unanswerable)");
    });
    if (!result.ok()) return fail(result.status().message());
    const auto& r = *result;
    if (o->json) {
      Json rows = Json::array();
      for (const auto& row : r.rows) {
        rows.push_back({{"id", row.id}, {"answerable", row.answerable}, {"bm25_hit", row.bm25_hit},
                        {"hybrid_hit", row.hybrid_hit}, {"declined", row.declined},
                        {"citations_valid", row.citations_valid}, {"citations_emitted", row.citations_emitted},
                        {"keywords_found", row.keywords_found}, {"support", row.support}, {"answer", row.answer}});
      }
      Json j = {{"scenario", "local-research"},
                {"questions", r.answerable + r.unanswerable},
                {"answerable", r.answerable},
                {"unanswerable", r.unanswerable},
                {"k", r.k},
                {"recall_at_k", {{"bm25", r.recall_bm25}, {"hybrid", r.hybrid_available ? Json(r.recall_hybrid) : Json(nullptr)}}},
                {"citation_validity", r.citation_validity},
                {"presented_citation_validity", r.presented_citation_validity},
                {"citations_emitted", r.citations_emitted},
                {"unanswerable_declined", r.unanswerable_declined},
                {"answerable_declined", r.answerable_declined},
                {"answered_with_citation", r.answered_with_citation},
                {"keyword_hit_rate", r.keyword_hit_rate},
                {"latency_ms", {{"p50", r.latency_p50_ms}, {"p95", r.latency_p95_ms}}},
                {"rows", rows}};
      std::printf("%s\n", dump_json(j, 2).c_str());
    } else {
      TextTable t({"measure", "value"});
      t.right_align(1);
      auto pct = [](double v) { return fmt::format("{:.1f}%", 100 * v); };
      t.add_row({fmt::format("recall@{} BM25", r.k), pct(r.recall_bm25)});
      t.add_row({fmt::format("recall@{} hybrid", r.k), r.hybrid_available ? pct(r.recall_hybrid) : "n/a (no embedding model)"});
      t.add_row({"citation validity (valid / emitted)", fmt::format("{} ({} emitted)", pct(r.citation_validity), r.citations_emitted)});
      t.add_row({"presented citations re-checked", fmt::format("{} ({} shown)", pct(r.presented_citation_validity), r.citations_presented)});
      t.add_row({"unanswerable questions declined", pct(r.unanswerable_declined)});
      t.add_row({"answerable questions declined", pct(r.answerable_declined)});
      t.add_row({"answerable answered with a valid citation", pct(r.answered_with_citation)});
      t.add_row({"answers containing an expected keyword", pct(r.keyword_hit_rate)});
      t.add_row({"latency p50 / p95", fmt::format("{:.0f} / {:.0f} ms", r.latency_p50_ms, r.latency_p95_ms)});
      std::printf("local-research evaluation: %d questions (%d answerable, %d unanswerable)\n%s", r.answerable + r.unanswerable,
                  r.answerable, r.unanswerable, t.render().c_str());
    }
    exit_code = r.presented_citation_validity == 1.0 ? 0 : 2;
  });
}

}  // namespace keel::app
