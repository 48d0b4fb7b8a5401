// keel rag: the enterprise-rag scenario's commands (so far: typed metric queries).
//   keel rag query --token FILE --jwks FILE --warehouse URI --request JSON [--spec SPEC] [--json]
//     verifies the token, maps its claims to principal, tenant and roles, and answers the typed
//     request from the spec's metric catalog under the warehouse's row-level security.
//     Exit 0 answered, 4 a typed limitation (the answer says which), 1 refused or failed.
//   keel rag sample-warehouse --warehouse URI
//     creates the example's warehouse (three tenants' orders, tickets and employees, row-level
//     security forced, the reader role keel_reader) in a database the URI reaches as its owner.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <libpq-fe.h>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/json.h"
#include "core/jwt.h"
#include "core/text_table.h"
#include "samples/warehouse.h"
#include "semantic/metric_service.h"

namespace keel::app {
namespace {

constexpr int kExitLimited = 4;

struct QueryOptions {
  std::string spec, token, jwks, warehouse, request, issuer, audience;
  bool json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel rag: %s\n", message.c_str());
  return 1;
}

// The metric catalog the spec names (a data source of kind semantic-layer).
Result<semantic::MetricCatalog> catalog_of(const contract::Spec& spec) {
  for (const auto& source : spec.data.sources) {
    if (source.kind != contract::SourceKind::semantic_layer) continue;
    const std::string path =
        source.path.empty() || source.path[0] == '/' ? source.path : spec.base_dir + "/" + source.path;
    return semantic::load_metric_catalog(path);
  }
  return Status::failed_precondition(
      fmt::format("spec {} names no data source of kind semantic-layer (the metric catalog)", spec.file));
}

Result<semantic::Asker> asker_of(const QueryOptions& o) {
  KEEL_ASSIGN_OR_RETURN(std::string jwks, read_file(o.jwks, 1 << 20));
  KEEL_ASSIGN_OR_RETURN(auto verifier, JwtVerifier::from_jwks(jwks, {o.issuer, o.audience, 60}));
  KEEL_ASSIGN_OR_RETURN(std::string token, read_file(o.token, 64 << 10));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  KEEL_ASSIGN_OR_RETURN(VerifiedToken verified, verifier->verify(token));
  return semantic::asker_from_claims(verified.claims);
}

// The warehouse is reached over its Unix socket, and then the process can reach nothing else
// (the local_ipc guard), or at a host the spec's egress allow-list names.
Status guard_for_warehouse(const contract::Spec& spec, const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (!options) {
    std::string message = error ? error : "cannot parse it";
    PQfreemem(error);
    return Status::invalid_argument("--warehouse: " + message);
  }
  std::string host;
  for (PQconninfoOption* o = options; o->keyword; ++o)
    if (std::string_view(o->keyword) == "host" && o->val) host = o->val;
  PQconninfoFree(options);
  if (host.empty() || host[0] == '/')
    return contract::install_egress_guard(contract::EgressGuardProfile::local_ipc);
  if (!spec.deployment.egress.none && spec.deployment.egress.allows(host)) return Status();
  return Status::permission_denied(fmt::format(
      "the warehouse host {} is not in deployment.egress.allow of {}: add it, or reach the "
      "warehouse over its Unix socket",
      host, spec.file));
}

void print_text(const Json& answer) {
  if (answer["status"] == "limited") {
    const Json& l = answer["limitation"];
    std::printf("no answer: %s (%s)\n", l["message"].get<std::string>().c_str(),
                l["code"].get<std::string>().c_str());
    if (!l["nearest"].empty()) std::printf("you can ask for: %s\n", l["nearest"].dump().c_str());
    return;
  }
  std::vector<std::string> header;
  for (const auto& c : answer["columns"]) header.push_back(c.get<std::string>());
  TextTable table(header, 40);
  for (const auto& row : answer["rows"]) {
    std::vector<std::string> cells;
    for (const auto& v : row) cells.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    table.add_row(cells);
  }
  std::printf("%s", table.render("").c_str());
  const Json& e = answer["evidence"];
  std::printf("metric %s (%s), catalog %s, sql %s, %zu row(s)\n",
              e["metric"].get<std::string>().c_str(), e["unit"].get<std::string>().c_str(),
              e["catalog_version"].get<std::string>().c_str(),
              e["sql_hash"].get<std::string>().substr(0, 12).c_str(), answer["rows"].size());
}

int run_query(const QueryOptions& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  auto catalog = catalog_of(*spec);
  if (!catalog.ok()) return fail(catalog.status().message());
  auto asker = asker_of(o);
  if (!asker.ok()) return fail(asker.status().message());
  std::string text = o.request;
  if (!text.empty() && text[0] == '@') {
    auto file = read_file(text.substr(1), 1 << 20);
    if (!file.ok()) return fail(file.status().message());
    text = *file;
  }
  auto request = parse_json(text);
  if (!request.ok()) return fail("--request is not JSON: " + request.status().message());
  if (Status guard = guard_for_warehouse(*spec, o.warehouse); !guard.ok())
    return fail(guard.message());
  auto warehouse = semantic::Warehouse::connect(o.warehouse);
  if (!warehouse.ok()) return fail(warehouse.status().message());
  semantic::MetricService service(*catalog, **warehouse);
  auto answer = service.answer(*asker, *request);
  if (!answer.ok()) return fail(answer.status().to_string());
  if (o.json) {
    std::printf("%s\n", dump_json(*answer, 2).c_str());
  } else {
    print_text(*answer);
  }
  return (*answer)["status"] == "limited" ? kExitLimited : 0;
}

void add_query(CLI::App& rag, int& exit_code) {
  auto o = std::make_shared<QueryOptions>();
  CLI::App* cmd = rag.add_subcommand("query", "Answer a typed metric request for a token's tenant");
  cmd->add_option("--spec", o->spec, "enterprise-rag spec (default: examples/enterprise-rag.yaml)");
  cmd->add_option("--token", o->token, "file holding the asker's JWT")->required();
  cmd->add_option("--jwks", o->jwks, "JSON Web Key Set the tokens are verified against")->required();
  cmd->add_option("--issuer", o->issuer, "expected iss claim (empty: not checked)");
  cmd->add_option("--audience", o->audience, "expected aud claim (empty: not checked)");
  cmd->add_option("--warehouse", o->warehouse, "libpq URI of the warehouse (as its reader role)")
      ->required();
  cmd->add_option("--request", o->request, "the typed request: JSON, or @FILE")->required();
  cmd->add_flag("--json", o->json, "print the answer as JSON");
  cmd->callback([o, &exit_code] {
    if (o->spec.empty()) o->spec = bundled_example("examples/enterprise-rag.yaml");
    exit_code = run_query(*o);
  });
}

void add_sample_warehouse(CLI::App& rag, int& exit_code) {
  auto uri = std::make_shared<std::string>();
  CLI::App* cmd = rag.add_subcommand(
      "sample-warehouse", "Create the example's warehouse (three tenants, row-level security)");
  cmd->add_option("--warehouse", *uri, "libpq URI reaching the database as its owner")->required();
  cmd->callback([uri, &exit_code] {
    Status s = samples::create_sample_warehouse(*uri);
    if (!s.ok()) {
      exit_code = fail(s.to_string());
      return;
    }
    std::printf("created the sample warehouse (tenants acme, globex, initech; reader role keel_reader)\n");
    exit_code = 0;
  });
}

}  // namespace

void add_rag_command(CLI::App& root, int& exit_code) {
  CLI::App* rag = root.add_subcommand("rag", "Enterprise RAG: governed metric answers");
  rag->require_subcommand(1);
  add_query(*rag, exit_code);
  add_sample_warehouse(*rag, exit_code);
}

}  // namespace keel::app
