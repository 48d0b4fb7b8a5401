// Indexing and retrieval on a generated corpus (10,000 documents by default, written from the
// words of Keel's bundled documents in a Zipf-like mix), against the
// floor measured in the same run: reading and hashing every byte of the corpus once, which any
// incremental indexer must do. Reports documents/s and MB/s (BM25 only, then BM25 + vectors
// with the embedding model), embedding chunks/s, resident memory sampled while indexing (it
// must stay flat: the indexer holds one document at a time), then BM25 and hybrid query
// latency p50/p95 and a re-run with nothing changed (the incremental path).
//
//   index_bench [--docs N] [--queries N] [--embed-model E.gguf] [--dir DIR] [--threads T] [--json]
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "context/embedder.h"
#include "context/indexer.h"
#include "context/retriever.h"
#include "context/store.h"
#include "context/vector_index.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/text_table.h"

using namespace keel;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

// Resident set size now (not the peak): pages in /proc/self/statm times the page size.
uint64_t current_rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// The words of Keel's bundled documents, most frequent first, then pronounceable made-up words
// (names, rare terms) up to n: text that tokenizes like real prose, with a Zipf-like use below.
std::vector<std::string> make_vocabulary(std::mt19937_64& rng, size_t n, const std::string& prose_dir) {
  std::map<std::string, int64_t> counts;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(prose_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string word;
    char c;
    while (in.get(c)) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else {
        if (word.size() >= 2) ++counts[word];
        word.clear();
      }
    }
  }
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (auto& [w, c] : counts) ranked.emplace_back(-c, w);
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> words;
  words.reserve(n);
  for (auto& [c, w] : ranked) words.push_back(w);
  static const char* kSyllables[] = {"ka", "lo", "ven", "tri", "mar", "sol", "eth", "qui", "dra", "pel",
                                     "nor", "zu",  "bex", "ori", "fen", "gal", "hy",  "ist", "jor", "lum"};
  std::uniform_int_distribution<int> syl(0, 19), count(2, 4);
  while (words.size() < n) {
    std::string w;
    for (int i = count(rng); i > 0; --i) w += kSyllables[syl(rng)];
    words.push_back(std::move(w));
  }
  return words;
}

struct Corpus {
  size_t documents = 0;
  uint64_t bytes = 0;
  std::vector<std::string> queries;
  std::vector<std::string> query_sources;  // the document each query was drawn from
};

// Writes `n` documents (.md, .txt and .html, 0.5–6 KB each) into dir and returns queries, each
// made of rarer words taken from one document, so every query has a document that answers it.
Corpus write_corpus(const std::string& dir, size_t n, size_t n_queries) {
  std::mt19937_64 rng(20261127);
  auto vocab = make_vocabulary(rng, 20000, KEEL_SOURCE_DIR "/examples/local-research/docs");
  // Zipf-like choice: rank r with weight 1/(r+1).
  std::vector<double> weights(vocab.size());
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::uniform_int_distribution<int> sentences(6, 70), sentence_len(6, 16), kind(0, 2);
  Corpus corpus;
  size_t query_every = std::max<size_t>(1, n / std::max<size_t>(1, n_queries));
  for (size_t d = 0; d < n; ++d) {
    fs::path sub = fs::path(dir) / fmt::format("part-{:03}", d / 500);
    if (d % 500 == 0) fs::create_directories(sub);
    std::string body;
    std::vector<size_t> rare;
    for (int s = sentences(rng); s > 0; --s) {
      std::string line;
      for (int w = sentence_len(rng); w > 0; --w) {
        size_t id = pick(rng);
        if (id > 2000) rare.push_back(id);
        if (!line.empty()) line += ' ';
        line += vocab[id];
      }
      line[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(line[0])));
      body += line + ".\n";
      if (s % 8 == 0) body += "\n";
    }
    int k = kind(rng);
    std::string text, ext;
    if (k == 0) {
      ext = ".md";
      text = fmt::format("# Report {}\n\n{}", d, body);
    } else if (k == 1) {
      ext = ".txt";
      text = body;
    } else {
      ext = ".html";
      text = fmt::format("<html><head><title>Note {}</title></head><body><p>{}</p></body></html>\n", d, body);
    }
    std::string name = fmt::format("doc-{:05}{}", d, ext);
    std::ofstream(sub / name, std::ios::binary) << text;
    corpus.bytes += text.size();
    ++corpus.documents;
    if (d % query_every == 0 && rare.size() >= 3 && corpus.queries.size() < n_queries) {
      corpus.queries.push_back(fmt::format("{} {} {}", vocab[rare[0]], vocab[rare[rare.size() / 2]], vocab[rare.back()]));
      corpus.query_sources.push_back((sub.filename() / name).string());
    }
  }
  return corpus;
}

struct IndexRun {
  double seconds = 0;
  context::IndexReport report;
  std::vector<uint64_t> rss_samples;  // at 10%, 20%, ... of the files
};

Result<IndexRun> run_index(const context::IndexOptions& options, bool quiet) {
  IndexRun run;
  size_t next_sample = 0;
  auto start = Clock::now();
  auto report = context::index_documents(options, [&](const context::FileEvent& e) {
    if (e.total == 0) return;
    size_t tenth = e.index * 10 / e.total;
    if (tenth > next_sample) {
      next_sample = tenth;
      run.rss_samples.push_back(current_rss_bytes());
      if (!quiet) fmt::print(stderr, "\r  indexing {:>3}% ({} of {} files)", tenth * 10, e.index, e.total);
    }
  });
  if (!quiet) fmt::print(stderr, "\n");
  if (!report.ok()) return report.status();
  run.seconds = seconds_since(start);
  run.report = std::move(*report);
  return run;
}

struct QueryLatency {
  double p50_ms = 0, p95_ms = 0;
  double hit_rate = 0;  // queries whose source document is among the top 5
};

}  // namespace

int main(int argc, char** argv) {
  size_t n_docs = 10000, n_queries = 200;
  int threads = 0;
  bool json = false;
  std::string dir, embed_model = KEEL_SOURCE_DIR "/models/keel-tiny-embed.gguf";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--docs") n_docs = std::stoul(next());
    else if (a == "--queries") n_queries = std::stoul(next());
    else if (a == "--embed-model") embed_model = next();
    else if (a == "--dir") dir = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--json") json = true;
    else {
      fmt::print(stderr, "unknown argument {}\nusage: index_bench [--docs N] [--queries N] [--embed-model E.gguf] "
                         "[--dir DIR] [--threads T] [--json]\n", a);
      return 1;
    }
  }
  bool own_dir = dir.empty();
  if (own_dir) dir = (fs::temp_directory_path() / fmt::format("keel-index-bench-{}", getpid())).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string docs = dir + "/docs";

  fmt::print(stderr, "index_bench: writing {} documents into {}\n", n_docs, docs);
  Corpus corpus = write_corpus(docs, n_docs, n_queries);
  double mb = static_cast<double>(corpus.bytes) / 1e6;
  fmt::print(stderr, "  {:.1f} MB, {} queries\n", mb, corpus.queries.size());

  // The floor: every file read and hashed once (the cache is warm after writing, as it is for
  // the indexer below).
  auto floor_start = Clock::now();
  auto listing = context::list_documents(docs);
  for (const auto& f : listing.files) {
    auto digest = sha256_file(docs + "/" + f);
    if (!digest.ok()) {
      fmt::print(stderr, "reading {}: {}\n", f, digest.status().to_string());
      return 1;
    }
  }
  double floor_s = seconds_since(floor_start);

  context::IndexOptions bm25_options;
  bm25_options.docs_dir = docs;
  bm25_options.store_path = dir + "/bm25.db";
  bm25_options.threads = threads;
  fmt::print(stderr, "index_bench: BM25 only\n");
  auto bm25 = run_index(bm25_options, json);
  if (!bm25.ok()) {
    fmt::print(stderr, "indexing failed: {}\n", bm25.status().to_string());
    return 1;
  }

  context::IndexOptions hybrid_options = bm25_options;
  hybrid_options.store_path = dir + "/hybrid.db";
  hybrid_options.embed_model = embed_model;
  fmt::print(stderr, "index_bench: BM25 + vectors ({})\n", fs::path(embed_model).filename().string());
  auto hybrid = run_index(hybrid_options, json);
  if (!hybrid.ok()) {
    fmt::print(stderr, "indexing failed: {}\n", hybrid.status().to_string());
    return 1;
  }
  fmt::print(stderr, "index_bench: re-index with nothing changed\n");
  auto rerun = run_index(hybrid_options, true);
  if (!rerun.ok()) {
    fmt::print(stderr, "re-indexing failed: {}\n", rerun.status().to_string());
    return 1;
  }

  // Queries over the hybrid store, read-only as the assistant opens it.
  auto store = context::DocumentStore::open(hybrid_options.store_path, /*read_only=*/true);
  auto embedder = context::Embedder::open(embed_model, threads);
  if (!store.ok() || !embedder.ok()) {
    fmt::print(stderr, "opening the store or the embedding model failed\n");
    return 1;
  }
  auto chunks = (*store)->count_chunks();
  auto index_sha = (*store)->meta("vector_index_sha256");
  auto index = context::VectorIndex::load(context::VectorIndex::path_for_store(hybrid_options.store_path),
                                          (*embedder)->dims(), static_cast<size_t>(chunks.ok() ? *chunks : 0),
                                          index_sha.ok() ? index_sha->value_or("") : "");
  if (!index.ok()) {
    fmt::print(stderr, "loading the vector index failed: {}\n", index.status().to_string());
    return 1;
  }
  context::Retriever retriever(**store, embedder->get(), index->get());
  auto measure = [&](context::RetrievalMode mode) -> Result<QueryLatency> {
    std::vector<double> lat;
    context::RetrievalOptions ro;
    ro.k = 5;
    ro.mode = mode;
    for (const auto& q : corpus.queries) {  // warm-up pass: page cache and SQLite statements
      KEEL_ASSIGN_OR_RETURN(auto r, retriever.retrieve(q, ro));
      (void)r;
      break;
    }
    size_t hits = 0;
    for (size_t i = 0; i < corpus.queries.size(); ++i) {
      auto t = Clock::now();
      KEEL_ASSIGN_OR_RETURN(auto r, retriever.retrieve(corpus.queries[i], ro));
      lat.push_back(seconds_since(t) * 1e3);
      if (std::any_of(r.begin(), r.end(), [&](const auto& c) { return c.document.path == corpus.query_sources[i]; })) {
        ++hits;
      }
    }
    QueryLatency out;
    out.p50_ms = pct(lat, 0.5);
    out.p95_ms = pct(lat, 0.95);
    out.hit_rate = corpus.queries.empty() ? 0 : static_cast<double>(hits) / static_cast<double>(corpus.queries.size());
    return out;
  };
  auto q_bm25 = measure(context::RetrievalMode::bm25);
  auto q_hybrid = measure(context::RetrievalMode::hybrid);
  if (!q_bm25.ok() || !q_hybrid.ok()) {
    fmt::print(stderr, "retrieval failed: {}\n", (!q_bm25.ok() ? q_bm25.status() : q_hybrid.status()).to_string());
    return 1;
  }

  auto docs_per_s = [&](const IndexRun& r) { return static_cast<double>(corpus.documents) / r.seconds; };
  auto mb_per_s = [&](const IndexRun& r) { return mb / r.seconds; };
  double floor_mb_s = mb / floor_s;
  auto rss_min_max = [](const IndexRun& r) {
    if (r.rss_samples.empty()) return std::pair<uint64_t, uint64_t>{0, 0};
    auto [lo, hi] = std::minmax_element(r.rss_samples.begin(), r.rss_samples.end());
    return std::pair<uint64_t, uint64_t>{*lo, *hi};
  };
  double chunks_per_s = hybrid->report.embed_seconds > 0
                            ? static_cast<double>(hybrid->report.chunks_embedded) / hybrid->report.embed_seconds
                            : 0;

  if (json) {
    Json out = {
        {"documents", corpus.documents},
        {"megabytes", mb},
        {"chunks", hybrid->report.chunks_in_store},
        {"floor_read_hash_mb_per_s", floor_mb_s},
        {"bm25_index", {{"seconds", bm25->seconds}, {"docs_per_s", docs_per_s(*bm25)}, {"mb_per_s", mb_per_s(*bm25)},
                        {"fraction_of_floor", mb_per_s(*bm25) / floor_mb_s},
                        {"rss_bytes_min", rss_min_max(*bm25).first}, {"rss_bytes_max", rss_min_max(*bm25).second}}},
        {"hybrid_index", {{"seconds", hybrid->seconds}, {"docs_per_s", docs_per_s(*hybrid)},
                          {"mb_per_s", mb_per_s(*hybrid)}, {"embed_chunks_per_s", chunks_per_s},
                          {"rss_bytes_min", rss_min_max(*hybrid).first}, {"rss_bytes_max", rss_min_max(*hybrid).second}}},
        {"unchanged_reindex_seconds", rerun->seconds},
        {"unchanged_reindex_files", rerun->report.unchanged},
        {"query_bm25_ms", {{"p50", q_bm25->p50_ms}, {"p95", q_bm25->p95_ms}}},
        {"query_hybrid_ms", {{"p50", q_hybrid->p50_ms}, {"p95", q_hybrid->p95_ms}}},
        {"source_in_top5", {{"bm25", q_bm25->hit_rate}, {"hybrid", q_hybrid->hit_rate}}},
        {"queries", corpus.queries.size()},
    };
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("\nCorpus: {} documents, {:.1f} MB, {} chunks; floor (read + SHA-256 every file) {:.0f} MB/s\n\n",
               corpus.documents, mb, hybrid->report.chunks_in_store, floor_mb_s);
    TextTable t({"indexing", "seconds", "docs/s", "MB/s", "vs floor", "RSS min..max while indexing"});
    for (size_t c = 1; c <= 4; ++c) t.right_align(c);
    auto row = [&](const std::string& name, const IndexRun& r) {
      auto [lo, hi] = rss_min_max(r);
      t.add_row({name, fmt::format("{:.1f}", r.seconds), fmt::format("{:.0f}", docs_per_s(r)),
                 fmt::format("{:.2f}", mb_per_s(r)), fmt::format("{:.3f}", mb_per_s(r) / floor_mb_s),
                 fmt::format("{:.0f}..{:.0f} MB", static_cast<double>(lo) / 1e6, static_cast<double>(hi) / 1e6)});
    };
    row("BM25 only", *bm25);
    row("BM25 + vectors", *hybrid);
    t.add_row({"re-run, nothing changed", fmt::format("{:.2f}", rerun->seconds), "", "", "",
               fmt::format("{} files unchanged", rerun->report.unchanged)});
    fmt::print("{}", t.render());
    fmt::print("\n  embedding: {:.0f} chunks/s ({} chunks in {:.1f} s)\n\n", chunks_per_s,
               hybrid->report.chunks_embedded, hybrid->report.embed_seconds);
    TextTable q({"retrieval (k=5)", "p50 ms", "p95 ms", "source in top 5", "queries"});
    q.right_align(1);
    q.right_align(2);
    q.right_align(3);
    q.right_align(4);
    q.add_row({"BM25", fmt::format("{:.2f}", q_bm25->p50_ms), fmt::format("{:.2f}", q_bm25->p95_ms),
               fmt::format("{:.0f}%", 100 * q_bm25->hit_rate), std::to_string(corpus.queries.size())});
    q.add_row({"hybrid (BM25 + vectors, RRF)", fmt::format("{:.2f}", q_hybrid->p50_ms),
               fmt::format("{:.2f}", q_hybrid->p95_ms), fmt::format("{:.0f}%", 100 * q_hybrid->hit_rate),
               std::to_string(corpus.queries.size())});
    fmt::print("{}", q.render());
  }
  if (own_dir) fs::remove_all(dir);
  return 0;
}
