// keel index --docs DIR --store FILE [--embed-model E.gguf]: index a folder incrementally.
// keel index status --store FILE [--docs DIR] [--json]: fresh / stale / missing / new documents.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/network_namespace.h"
#include "context/indexer.h"
#include "core/json.h"

namespace keel::app {
namespace {

struct Options {
  std::string docs, store, embed_model, status_store, status_docs;
  int threads = 0;
  uint64_t max_file_mb = 64;
  bool json = false, status_json = false, quiet = false;
};

int fail(const char* verb, const std::string& message) {
  std::fprintf(stderr, "keel %s: %s\n", verb, message.c_str());
  return 1;
}
int fail(const char* verb, const Status& s) { return fail(verb, s.to_string()); }

int index_status(const Options& o) {
  auto store = context::DocumentStore::open(o.status_store, true);
  if (!store.ok()) return fail("index status", store.status());
  std::string docs = o.status_docs;
  if (docs.empty()) {
    auto recorded = (*store)->meta("docs_root");
    if (!recorded.ok() || !*recorded) {
      return fail("index status", "the store does not record its folder; pass --docs");
    }
    docs = **recorded;
  }
  auto report = context::check_freshness(**store, docs);
  if (!report.ok()) return fail("index status", report.status());
  if (o.status_json) {
    Json j = {{"store", o.status_store}, {"docs", docs},              {"fresh", report->fresh},
              {"stale", report->stale},   {"missing", report->missing}, {"new", report->unindexed}};
    std::printf("%s\n", dump_json(j, 2).c_str());
    return 0;
  }
  std::printf("%s (documents in %s)\n  fresh   %zu\n  stale   %zu\n  missing %zu\n  new     %zu\n", o.status_store.c_str(),
              docs.c_str(), report->fresh.size(), report->stale.size(), report->missing.size(), report->unindexed.size());
  for (const auto& p : report->stale) std::printf("  stale:   %s\n", p.c_str());
  for (const auto& p : report->missing) std::printf("  missing: %s\n", p.c_str());
  for (const auto& p : report->unindexed) std::printf("  new:     %s\n", p.c_str());
  return 0;
}

void print_report(const Options& o, const context::IndexReport& r) {
  const double embed_rate = r.embed_seconds > 0 ? r.chunks_embedded / r.embed_seconds : 0;
  const double docs_per_s = r.seconds > 0 ? r.indexed / r.seconds : 0;
  const double mb_per_s = r.seconds > 0 ? r.bytes_indexed / 1e6 / r.seconds : 0;
  if (o.json) {
    Json skipped = Json::array(), failed = Json::array();
    for (const auto& [p, why] : r.skipped) skipped.push_back({{"path", p}, {"reason", why}});
    for (const auto& [p, why] : r.failed) failed.push_back({{"path", p}, {"reason", why}});
    Json j = {{"store", o.store},
              {"indexed", r.indexed},
              {"unchanged", r.unchanged + r.touched},
              {"removed", r.removed},
              {"skipped", skipped},
              {"failed", failed},
              {"chunks_added", r.chunks_added},
              {"documents", r.documents_in_store},
              {"chunks", r.chunks_in_store},
              {"seconds", r.seconds},
              {"docs_per_s", docs_per_s},
              {"mb_per_s", mb_per_s},
              {"chunks_embedded", r.chunks_embedded},
              {"embed_chunks_per_s", embed_rate}};
    std::printf("%s\n", dump_json(j, 2).c_str());
    return;
  }
  std::printf("indexed %zu, unchanged %zu, removed %zu, skipped %zu, failed %zu in %.2f s "
              "(%.1f docs/s, %.2f MB/s); store holds %lld documents, %lld chunks\n",
              r.indexed, r.unchanged + r.touched, r.removed, r.skipped.size(), r.failed.size(), r.seconds, docs_per_s,
              mb_per_s, static_cast<long long>(r.documents_in_store), static_cast<long long>(r.chunks_in_store));
  if (r.chunks_embedded > 0) {
    std::printf("embedded %lld chunks at %.1f chunks/s\n", static_cast<long long>(r.chunks_embedded), embed_rate);
  }
  for (const auto& [p, why] : r.skipped) std::printf("  skipped %s: %s\n", p.c_str(), why.c_str());
  for (const auto& [p, why] : r.failed) std::printf("  failed  %s: %s\n", p.c_str(), why.c_str());
}

int index(const Options& o) {
  if (o.docs.empty() || o.store.empty()) {
    return fail("index", "--docs and --store are required (or use `keel index status`)");
  }
  // Private documents are parsed here (PDF, HTML): nothing in this process may reach the network.
  auto isolation = contract::isolate_for_egress_none();
  if (!isolation.ok()) return fail("index", isolation.status());
  context::IndexOptions options;
  options.docs_dir = o.docs;
  options.store_path = o.store;
  if (!o.embed_model.empty()) options.embed_model = o.embed_model;
  options.threads = o.threads;
  options.max_file_bytes = o.max_file_mb << 20;
  auto report = context::index_documents(options, [&](const context::FileEvent& e) {
    if (o.quiet) return;
    std::fprintf(stderr, "[%zu/%zu] %-9s %s%s%s\n", e.index, e.total, std::string(context::file_outcome_name(e.outcome)).c_str(),
                 e.path.c_str(), e.detail.empty() ? "" : "  ", e.detail.c_str());
  });
  if (!report.ok()) return fail("index", report.status());
  print_report(o, *report);
  return report->failed.empty() ? 0 : 1;
}

}  // namespace

void add_index_command(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("index", "Index a folder of documents into a store (incremental)");
  cmd->add_option("--docs", o->docs, "folder of .txt/.md/.html/.pdf files");
  cmd->add_option("--store", o->store, "document store to create or update (SQLite)");
  cmd->add_option("--embed-model", o->embed_model, "BERT-family GGUF for vector search");
  cmd->add_option("--threads,-t", o->threads, "compute threads (0: all cores)");
  cmd->add_option("--max-file-mb", o->max_file_mb, "skip files larger than this");
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->add_flag("--quiet,-q", o->quiet, "no per-file progress");
  CLI::App* status = cmd->add_subcommand("status", "Compare a store with its documents folder");
  status->add_option("--store", o->status_store, "document store")->required();
  status->add_option("--docs", o->status_docs, "documents folder (default: the one the store records)");
  status->add_flag("--json", o->status_json, "print as JSON");
  cmd->require_subcommand(0, 1);
  status->callback([o, &exit_code] { exit_code = index_status(*o); });
  cmd->callback([o, status, &exit_code] {
    if (!status->parsed()) exit_code = index(*o);
  });
}

}  // namespace keel::app
