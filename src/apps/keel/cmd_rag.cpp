// keel rag: the enterprise-rag scenario's commands (serve and ask: cmd_rag_serve.cpp).
//   keel rag query --token FILE --jwks FILE --warehouse URI --request JSON [--spec SPEC] [--json]
//     the semantic layer alone: verifies the token, maps its claims to principal, tenant and
//     roles, and answers the typed request from the spec's metric catalog under the warehouse's
//     row-level security (no documents, no audit: `keel rag ask --request` does both).
//     Exit 0 answered, 4 a typed limitation (the answer says which), 1 refused or failed.
//   keel rag sample-identity --out DIR
//     a key set and a token per sample asker (acme analyst and hr, globex and initech analysts).
//   keel rag sample-warehouse --warehouse URI
//     creates the example's warehouse (three tenants' orders, tickets and employees, row-level
//     security forced, the reader role keel_reader) in a database the URI reaches as its owner.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "apps/keel/rag_setup.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/json.h"
#include "rag/audit_log.h"
#include "core/text_table.h"
#include "samples/sample_idp.h"
#include "samples/warehouse.h"
#include "semantic/metric_service.h"

namespace keel::app {
namespace {

constexpr int kExitLimited = 4;
constexpr const char* kSampleIssuer = "https://identity.internal.example";
constexpr const char* kSampleAudience = "keel-rag";

struct QueryOptions {
  std::string spec, token, warehouse, request;
  RagIdentityOptions identity;
  bool json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel rag: %s\n", message.c_str());
  return 1;
}

Result<semantic::Asker> asker_of(const QueryOptions& o, const contract::Spec& spec) {
  KEEL_ASSIGN_OR_RETURN(auto authenticator, make_authenticator(o.identity, spec));
  KEEL_ASSIGN_OR_RETURN(std::string token, read_token_file(o.token));
  return authenticator->authenticate(token);
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
  contract::restrict_egress_to({&*spec});  // a --jwks URL too
  auto asker = asker_of(o, *spec);
  if (!asker.ok()) return fail(asker.status().message());
  auto request = read_request_arg(o.request);
  if (!request.ok()) return fail(request.status().message());
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
  add_identity_options(*cmd, o->identity);
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
    if (s.ok()) s = rag::install_audit_table(*uri);
    if (!s.ok()) {
      exit_code = fail(s.to_string());
      return;
    }
    std::printf("created the sample warehouse (tenants acme, globex, initech; their documents; the "
                "append-only audit table keel_audit; reader role keel_reader)\n");
    exit_code = 0;
  });
}

// Keys, a key set and a token per sample asker, for trying the scenario without an IdP.
void add_sample_identity(CLI::App& rag, int& exit_code) {
  auto out = std::make_shared<std::string>();
  auto days = std::make_shared<int>(30);
  CLI::App* cmd = rag.add_subcommand(
      "sample-identity", "Write a key set and tokens for the example's askers (a stand-in for your IdP)");
  cmd->add_option("--out", *out, "folder to write jwks.json and <tenant>-<role>.jwt into")->required();
  cmd->add_option("--days", *days, "how long the tokens stay valid")->capture_default_str()->check(CLI::Range(1, 365));
  cmd->callback([out, days, &exit_code] {
    samples::SampleIdp idp;
    std::error_code ec;
    std::filesystem::create_directories(*out, ec);
    const int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count() + int64_t{*days} * 86400;
    Status s = write_file_atomically(*out + "/jwks.json", idp.jwks() + "\n");
    std::vector<std::string> written = {"jwks.json"};
    struct Asker {
      const char* tenant;
      const char* role;
    };
    for (const Asker a : {Asker{"acme", "analyst"}, Asker{"acme", "hr"}, Asker{"globex", "analyst"},
                          Asker{"initech", "analyst"}}) {
      const Json claims = {{"iss", kSampleIssuer},   {"aud", kSampleAudience},
                           {"sub", fmt::format("{}-{}", a.role, a.tenant)},
                           {"tenant", a.tenant},     {"roles", {a.role}},
                           {"exp", exp}};
      const std::string name = fmt::format("{}-{}.jwt", a.tenant, a.role);
      if (s.ok()) s = write_file_atomically(*out + "/" + name, idp.issue(claims) + "\n");
      written.push_back(name);
    }
    if (!s.ok()) {
      exit_code = fail(s.to_string());
      return;
    }
    std::printf("wrote %s to %s (issuer %s, audience %s, valid %d days; the signing keys are not kept)\n",
                fmt::format("{}", fmt::join(written, ", ")).c_str(), out->c_str(), kSampleIssuer, kSampleAudience,
                *days);
    exit_code = 0;
  });
}

}  // namespace

void add_rag_command(CLI::App& root, int& exit_code) {
  CLI::App* rag = root.add_subcommand(
      "rag", "Enterprise RAG: governed answers from typed metrics and policy documents");
  rag->require_subcommand(1);
  add_rag_serve(*rag, exit_code);
  add_rag_ask(*rag, exit_code);
  add_rag_mcp(*rag, exit_code);
  add_query(*rag, exit_code);
  add_sample_warehouse(*rag, exit_code);
  add_sample_identity(*rag, exit_code);
}

}  // namespace keel::app
