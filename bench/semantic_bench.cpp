// The semantic layer's overhead against the database doing the same work: for each request
// shape, Keel's whole path (parse, validate against the catalog, compile, a read-only
// transaction that sets the tenant for row-level security, the query) against the same SQL with
// the same parameters sent directly with libpq by the tables' owner. Rounds alternate between
// the two; medians and p95 in milliseconds, and the ratio of the medians.
//
//   semantic_bench --owner URI --reader URI [--rounds N]      (bench/semantic_bench.sh starts a
//                                                               throwaway PostgreSQL)
#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/statistics.h"
#include "core/text_table.h"
#include "samples/warehouse.h"
#include "semantic/metric_service.h"
#include "semantic/sql_compiler.h"

using namespace keel;
using SteadyClock = std::chrono::steady_clock;

namespace {

double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

struct Shape {
  const char* name;
  const char* request;
};

const Shape kShapes[] = {
    {"one number", R"({"metric": "revenue", "range": {"from": "2026-01-01", "to": "2026-04-01"}})"},
    {"by month x region",
     R"({"metric": "revenue", "dimensions": ["region"], "grain": "month"})"},
    {"filtered count",
     R"({"metric": "order_count", "dimensions": ["product"], "filters": [{"dimension": "region", "op": "in", "values": ["north", "east"]}]})"},
};

// The peer: the compiled SQL and its parameters, one PQexecParams by the owner.
double run_direct(PGconn* c, const semantic::CompiledQuery& q) {
  std::vector<const char*> values;
  for (const auto& p : q.params) values.push_back(p.c_str());
  auto t = SteadyClock::now();
  PGresult* r = PQexecParams(c, q.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0);
  const double ms = ms_since(t);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    std::fprintf(stderr, "direct query failed: %s\n", PQerrorMessage(c));
    std::exit(1);
  }
  PQclear(r);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  std::string owner, reader;
  int rounds = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--owner")) owner = argv[i + 1];
    if (!std::strcmp(argv[i], "--reader")) reader = argv[i + 1];
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  if (owner.empty() || reader.empty()) {
    std::fprintf(stderr, "usage: semantic_bench --owner URI --reader URI [--rounds N]\n");
    return 2;
  }
  if (Status s = samples::create_sample_warehouse(owner); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  auto catalog = semantic::load_metric_catalog(std::string(KEEL_SOURCE_DIR) + "/examples/enterprise-rag/metrics.yaml");
  auto warehouse = semantic::Warehouse::connect(reader);
  PGconn* direct = PQconnectdb(owner.c_str());
  if (!catalog.ok() || !warehouse.ok() || PQstatus(direct) != CONNECTION_OK) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  semantic::MetricService service(*catalog, **warehouse);
  const semantic::Asker asker{"analyst-acme", "acme", {"analyst"}};
  TextTable table({"request", "keel p50 ms", "keel p95 ms", "direct p50 ms", "direct p95 ms",
                   "ratio (p50)", "compile us"}, 24);
  for (const Shape& shape : kShapes) {
    const Json request = *parse_json(shape.request);
    auto validated = semantic::validate_metric_request(*catalog, *semantic::parse_metric_request(request), asker);
    const semantic::CompiledQuery q = semantic::compile_metric_query(*validated, asker.tenant);
    std::vector<double> keel_ms, direct_ms, compile_us;
    for (int round = 0; round < rounds; ++round) {
      auto t = SteadyClock::now();
      auto parsed = semantic::parse_metric_request(request);
      auto v = semantic::validate_metric_request(*catalog, *parsed, asker);
      (void)semantic::compile_metric_query(*v, asker.tenant);
      compile_us.push_back(ms_since(t) * 1000);
      t = SteadyClock::now();
      auto answer = service.answer(asker, request);
      keel_ms.push_back(ms_since(t));
      if (!answer.ok() || (*answer)["status"] != "answered") {
        std::fprintf(stderr, "keel failed: %s\n", answer.ok() ? answer->dump().c_str() : answer.status().to_string().c_str());
        return 1;
      }
      direct_ms.push_back(run_direct(direct, q));
    }
    table.add_row({shape.name, fmt::format("{:.3f}", percentile(keel_ms, 0.5)),
                   fmt::format("{:.3f}", percentile(keel_ms, 0.95)),
                   fmt::format("{:.3f}", percentile(direct_ms, 0.5)),
                   fmt::format("{:.3f}", percentile(direct_ms, 0.95)),
                   fmt::format("{:.2f}", percentile(keel_ms, 0.5) / percentile(direct_ms, 0.5)),
                   fmt::format("{:.1f}", percentile(compile_us, 0.5))});
    std::fprintf(stderr, "  %s: %d rounds\n", shape.name, rounds);
  }
  std::printf("semantic layer vs the same SQL sent directly (%d alternating rounds, acme's rows)\n%s",
              rounds, table.render("").c_str());
  std::printf("keel: parse + validate + compile + BEGIN READ ONLY + set_config(keel.tenant) + query + COMMIT "
              "as a role under forced row-level security;\ndirect: the compiled SQL and parameters in one "
              "PQexecParams by the owner (no row-level security, no transaction).\n");
  PQfinish(direct);
  return 0;
}
