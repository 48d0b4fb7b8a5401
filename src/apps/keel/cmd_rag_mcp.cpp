// keel rag mcp: the semantic layer's tools (list_metrics, describe_metric, query_metric) over
// MCP, for the asker of a verified token, under the same policy and audit as keel rag serve.
//   keel rag mcp --jwks FILE (--warehouse URI | --pg-data DIR) (--stdio --token FILE | --http [HOST:]PORT)
//   Over HTTP each request's bearer JWT is the asker; over stdio the --token file's.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "apps/keel/rag_setup.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/version.h"
#include "mcp/mcp_server.h"
#include "mcp/transports.h"
#include "rag/catalog_source.h"
#include "rag/metric_tools.h"
#include "rag/service_pool.h"

namespace keel::app {
namespace {

struct McpOptions {
  std::string spec, token, http;
  bool stdio = false;
  size_t threads = 2;
  WarehouseOptions warehouse;
  RagIdentityOptions identity;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel rag mcp: %s\n", message.c_str());
  return 1;
}

int run_mcp(const McpOptions& o) {
  if (o.stdio == !o.http.empty()) return fail("give --stdio (with --token) or --http [HOST:]PORT");
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  contract::restrict_egress_to({&*spec});
  auto path = catalog_path_of(*spec);
  if (!path.ok()) return fail(path.status().message());
  auto catalog = rag::CatalogSource::open(*path);
  if (!catalog.ok()) return fail(catalog.status().message());
  auto authenticator = make_authenticator(o.identity, *spec);
  if (!authenticator.ok()) return fail("the identity provider's key set: " + authenticator.status().message());
  std::shared_ptr<rag::TokenAuthenticator> tokens = std::move(*authenticator);
  std::unique_ptr<LocalPostgres> cluster;
  auto warehouse = open_warehouse(o.warehouse, &cluster);
  if (!warehouse.ok()) return fail(warehouse.status().message());
  if (Status s = check_warehouse_host(*spec, *warehouse); !s.ok()) return fail(s.message());
  std::string principal;
  if (o.stdio) {
    auto token = read_token_file(o.token);
    if (!token.ok()) return fail(token.status().message());
    auto asker = tokens->authenticate(*token);
    if (!asker.ok()) return fail(asker.status().message());
    principal = rag::principal_of(*asker);
  }
  std::shared_ptr<rag::CatalogSource> catalogs = *catalog;
  auto services = rag::ServicePool::create(
      o.threads, [&] { return rag::ConnectedAnswerService::open(catalogs, *warehouse); });
  if (!services.ok()) return fail(services.status().message());
  mcp::McpServer server("keel-semantic-layer", std::string(keel_version()),
                        "Governed metrics of your tenant: list_metrics, describe_metric, then query_metric with a "
                        "typed request. Every figure comes with its catalog version and evidence; never SQL.");
  server.add_tools(std::make_shared<rag::MetricTools>(catalogs, *services));
  if (o.stdio) {
    if (Status guard = guard_for_warehouse(*spec, *warehouse); !guard.ok()) return fail(guard.message());
    mcp::serve_stdio(server, principal, std::cin, std::cout);
    return 0;
  }
  mcp::HttpOptions h;
  if (Status parsed = mcp::parse_listen_address(o.http, h); !parsed.ok()) return fail(parsed.message());
  h.authenticate = [tokens](std::string_view authorization) -> Result<std::string> {
    if (authorization.size() < 7 || (authorization.substr(0, 7) != "Bearer " && authorization.substr(0, 7) != "bearer "))
      return Status::unauthenticated("send 'Authorization: Bearer <token>'");
    KEEL_ASSIGN_OR_RETURN(semantic::Asker asker, tokens->authenticate(authorization.substr(7)));
    return rag::principal_of(asker);
  };
  auto transport = mcp::HttpTransport::create(server, h);
  if (!transport.ok()) return fail(transport.status().message());
  std::fprintf(stderr, "keel rag mcp: listening on http://%s:%u/mcp\n", h.host.c_str(), (*transport)->port());
  (*transport)->run();
  return 0;
}

}  // namespace

void add_rag_mcp(CLI::App& rag, int& exit_code) {
  auto o = std::make_shared<McpOptions>();
  CLI::App* cmd = rag.add_subcommand("mcp", "Serve the semantic layer's tools over MCP (stdio or HTTP)");
  cmd->add_option("--spec", o->spec, "enterprise-rag spec (default: examples/enterprise-rag.yaml)");
  cmd->add_flag("--stdio", o->stdio, "serve one client on standard input and output, as --token's asker");
  cmd->add_option("--token", o->token, "with --stdio: file holding the asker's JWT");
  cmd->add_option("--http", o->http, "serve Streamable HTTP on [HOST:]PORT; each request's bearer JWT is its asker");
  cmd->add_option("--threads", o->threads, "tool calls answered at once")->capture_default_str()->check(CLI::Range(1, 64));
  add_warehouse_options(*cmd, o->warehouse);
  add_identity_options(*cmd, o->identity);
  cmd->callback([o, &exit_code] {
    if (o->spec.empty()) o->spec = bundled_example("examples/enterprise-rag.yaml");
    exit_code = run_mcp(*o);
  });
}

}  // namespace keel::app
