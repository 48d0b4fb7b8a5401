#include "apps/keel/rag_eval.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/keel/rag_setup.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/local_postgres.h"
#include "core/text_table.h"
#include "rag/audit_log.h"
#include "rag/evaluation.h"
#include "samples/sample_idp.h"
#include "samples/warehouse.h"

namespace keel::app {
namespace {

constexpr const char* kIssuer = "https://identity.internal.example";
constexpr const char* kAudience = "keel-rag";
constexpr int64_t kFarFuture = 4'000'000'000;

int fail(const std::string& message) {
  std::fprintf(stderr, "keel eval: %s\n", message.c_str());
  return 1;
}

// The token each case presents, minted by the example's identity provider.
std::string token_for(const samples::SampleIdp& idp, const rag::EvalCase& c) {
  Json claims = {{"iss", kIssuer},     {"aud", kAudience}, {"sub", fmt::format("{}-{}", c.roles.front(), c.tenant)},
                 {"tenant", c.tenant}, {"roles", c.roles}, {"exp", kFarFuture}};
  if (c.token == "expired") claims["exp"] = 1'000'000'000;
  if (c.token == "wrong_audience") claims["aud"] = "another-service";
  if (c.token == "no_tenant") claims.erase("tenant");
  std::string token = idp.issue(claims);
  if (c.token == "forged") token[token.size() - 3] = token[token.size() - 3] == 'A' ? 'B' : 'A';
  return token;
}

std::string share(int n, int d) { return d ? fmt::format("{:.0f}% ({}/{})", 100.0 * n / d, n, d) : "-"; }

void print_report(const rag::EvalReport& r, size_t cases) {
  std::printf("enterprise-rag evaluation: %zu cases per arrangement of the policy layers\n\n", cases);
  TextTable layers({"policy layers", "keel", "database", "leaks", "correct"});
  for (const auto& l : r.layers)
    layers.add_row({l.layers.name, l.layers.keel ? "on" : "off", l.layers.database ? "on" : "off",
                    std::to_string(l.leaks), share(l.correct, l.cases)});
  std::printf("%s\n", layers.render().c_str());
  std::printf("with both layers on:\n");
  TextTable figures({"figure", "value"});
  figures.add_row({"answers correct (metric figures = gold SQL, documents cite the gold one)",
                   share(r.answers_correct, r.answers_total)});
  figures.add_row({"limitations as expected (typed code)", share(r.limitations_correct, r.limitations_total)});
  figures.add_row({"bad tokens refused", share(r.refusals_correct, r.refusals_total)});
  figures.add_row({"adversarial cases", std::to_string(r.adversarial_total)});
  figures.add_row({"citations valid (quote = the document's bytes, hash matches)", share(r.citations_valid, r.citations)});
  figures.add_row({"policy denies", std::to_string(r.denies)});
  figures.add_row({"latency p50 / p95", fmt::format("{:.1f} / {:.1f} ms", r.latency_p50_ms, r.latency_p95_ms)});
  figures.add_row({"answers written by the model (its figures all in the evidence)", std::to_string(r.composed_by_model)});
  figures.add_row({"model texts rejected (a figure not in the evidence) / routes refused (data class)",
                   fmt::format("{} / {}", r.model_texts_rejected, r.routes_refused)});
  figures.add_row({"model tokens per answer (prompt + completion)", fmt::format("{:.0f}", r.tokens_per_answer)});
  std::printf("%s", figures.render().c_str());
  std::printf("composer: %s\n", r.composer_reason.c_str());
  for (const auto& l : r.layers)
    if (!l.layers.keel && !l.layers.database)
      std::printf("\nwith both layers off (the control) %d case(s) leaked: the leak check can fire\n", l.leaks);
  bool header = false;
  for (const auto& row : r.rows) {
    if ((row.correct && !row.leaked) || row.layers == r.layers.back().layers.name) continue;
    if (!header) std::printf("\ncases not answered as expected:\n");
    header = true;
    std::printf("  %-40s %-22s %-10s %s%s\n", row.id.c_str(), row.layers.c_str(), row.outcome.c_str(),
                row.leaked ? "LEAK: " : "", row.detail.c_str());
  }
}

}  // namespace

int run_enterprise_rag_eval(const RagEvalOptions& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  auto catalog = catalog_of(*spec);
  if (!catalog.ok()) return fail(catalog.status().message());
  const std::string questions =
      o.questions.empty() ? spec->base_dir + "/enterprise-rag/questions.json" : o.questions;
  auto set = rag::load_eval_set(questions);
  if (!set.ok()) return fail(set.status().message());
  auto answers = answer_options(*spec, o.composer);
  if (!answers.ok()) return fail(answers.status().message());

  std::string dir = o.pg_data;
  bool temporary = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/keel-eval-rag-XXXXXX";
    if (!mkdtemp(tmpl)) return fail("cannot make a temporary folder");
    dir = tmpl;
    temporary = true;
  }
  int exit_code = 1;
  {
    auto progress = [](std::string_view line) {
      std::fprintf(stderr, "keel eval: %.*s\n", static_cast<int>(line.size()), line.data());
    };
    auto cluster = LocalPostgres::start(dir, progress);
    if (!cluster.ok()) return fail(cluster.status().message());
    progress("creating the sample warehouse (three tenants, their documents, the audit table)");
    Status s = samples::create_sample_warehouse((*cluster)->uri());
    if (s.ok()) s = rag::install_audit_table((*cluster)->uri());
    if (!s.ok()) return fail(s.to_string());

    samples::SampleIdp idp;
    const std::string jwks = dir + "/eval-jwks.json";
    if (Status w = write_file_atomically(jwks, idp.jwks()); !w.ok()) return fail(w.to_string());
    auto tokens = rag::TokenAuthenticator::create(jwks, {kIssuer, kAudience, 60});
    if (!tokens.ok()) return fail(tokens.status().to_string());
    rag::EvalEnvironment env;
    env.catalog = &*catalog;
    env.reader_uri = (*cluster)->uri("keel_reader");
    env.owner_uri = (*cluster)->uri();
    env.token_for = [&idp](const rag::EvalCase& c) { return token_for(idp, c); };
    env.authenticate = [&tokens](std::string_view t) { return (*tokens)->authenticate(t); };
    env.router = answers->router;
    env.composer_reason = answers->composer_reason;
    const std::vector<rag::PolicyLayers> arrangements = {
        {"keel + database", true, true}, {"keel only", true, false}, {"database only", false, true},
        {"neither (control)", false, false}};
    auto report = rag::run_evaluation(*set, env, arrangements, [](const rag::CaseResult& r, size_t done, size_t total) {
      if (done % 25 == 0 || done == total) std::fprintf(stderr, "keel eval: [%zu/%zu] %s\n", done, total, r.layers.c_str());
    });
    if (!report.ok()) return fail(report.status().to_string());
    if (o.json) {
      std::printf("%s\n", dump_json(report->to_json(), 2).c_str());
    } else {
      print_report(*report, set->cases.size());
    }
    bool ok = report->refusals_correct == report->refusals_total;
    for (const auto& l : report->layers) ok = ok && ((l.layers.keel || l.layers.database) ? l.leaks == 0 : l.leaks > 0);
    exit_code = ok ? 0 : 2;
  }  // the cluster stops here
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return exit_code;
}

}  // namespace keel::app
