// keel mcp serve --spec SPEC [--spec SPEC2] (--stdio | --http [HOST:]PORT) [--tokens FILE]
//                [--as PRINCIPAL] [--state-dir DIR] [--store PATH] [--allow-origin ORIGIN]
// Serves a deployment over the Model Context Protocol: a durable-agent spec's tools (through
// its policy, approvals and journal), a local-research spec's documents as resources and a
// prompt that cites them.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/keel/commands.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/version.h"
#include "mcp/mcp_deployment.h"
#include "mcp/transports.h"
#include "samples/samples.h"

namespace keel::app {
namespace {

struct Options {
  std::vector<std::string> specs;
  bool stdio = false;
  std::string http, tokens, as, state_dir, store, journal;
  std::vector<std::string> origins;
};

// "[HOST:]PORT" (host default 127.0.0.1, IPv6 in brackets) into `h`.
int serve(const Options& o) {
  auto fail = [](const std::string& message, int code = 1) {
    std::fprintf(stderr, "keel mcp serve: %s\n", message.c_str());
    return code;
  };
  if (!o.stdio && o.http.empty()) return fail("choose a transport: --stdio or --http [HOST:]PORT");
  mcp::HttpOptions h;
  if (!o.stdio) {
    if (Status parsed = mcp::parse_listen_address(o.http, h); !parsed.ok()) return fail(parsed.message());
  }
  std::vector<contract::Spec> specs;
  for (const auto& path : o.specs) {
    auto spec = contract::load_spec(path);
    if (!spec.ok()) return fail(spec.status().message());
    for (const auto& c : contract::run_checks(*spec)) {
      if (c.status == contract::CheckStatus::fail) return fail(fmt::format("{} is refused: {} {}", path, c.id, c.message), 2);
    }
    // K018: a listener beyond loopback must not serve private data the spec keeps on this machine.
    if (!o.stdio) {
      if (auto exposed = contract::check_listener_exposure(*spec, "keel mcp serve --http", h.host)) {
        return fail(fmt::format("{} is refused: {} {}", path, exposed->id, exposed->message), 2);
      }
    }
    specs.push_back(std::move(*spec));
  }
  const bool egress_none =
      std::all_of(specs.begin(), specs.end(), [](const contract::Spec& s) { return s.deployment.egress.none; });
  // Connections this process opens (outside MCP servers, model endpoints) are held to the specs'
  // allow-lists.
  std::vector<const contract::Spec*> loaded;
  for (const auto& each : specs) loaded.push_back(&each);
  contract::restrict_egress_to(loaded);

  mcp::McpDeploymentOptions d;
  d.state_dir = o.state_dir;
  d.journal = o.journal;
  d.store = o.store;
  d.default_principal = o.as;
  d.tokens_path = o.tokens;
  d.principals_authenticated = !o.stdio && !o.tokens.empty();  // approval tools only then
  d.catalog = &samples::sample_catalog();
  auto deployment = mcp::McpDeployment::open(specs, std::string(keel_version()), d);
  if (!deployment.ok()) return fail(deployment.status().message());
  mcp::McpServer& server = (*deployment)->server();
  if (o.stdio) {
    if (egress_none) {
      // Standard input and output stay (they may be the client's socket pair); a PostgreSQL
      // journal's Unix socket too.
      Status guard = contract::install_egress_guard(contract::guard_profile_for_store(o.journal));
      if (!guard.ok()) return fail(guard.to_string());
    }
    mcp::serve_stdio(server, (*deployment)->default_principal(), std::cin, std::cout);
    return 0;
  }
  h.tokens_path = o.tokens;
  h.default_principal = (*deployment)->default_principal();
  h.allowed_origins = o.origins;
  auto transport = mcp::HttpTransport::create(server, h);
  if (!transport.ok()) return fail(transport.status().message());
  if (egress_none) {
    // Listening is done; accepted connections need no socket() call.
    Status guard = contract::install_egress_guard(contract::EgressGuardProfile::inbound_only);
    if (!guard.ok()) return fail(guard.to_string());
  }
  const std::string shown = h.host.find(':') != std::string::npos ? "[" + h.host + "]" : h.host;
  std::fprintf(stderr, "keel mcp: listening on http://%s:%u/mcp\n", shown.c_str(), (*transport)->port());
  (*transport)->run();
  return 0;
}

}  // namespace

void add_mcp_command(CLI::App& root, int& exit_code) {
  auto o = std::make_shared<Options>();
  CLI::App* mcp = root.add_subcommand("mcp", "Model Context Protocol server");
  mcp->require_subcommand(1);
  CLI::App* cmd = mcp->add_subcommand("serve", "Serve a deployment's tools, documents and prompts over MCP");
  cmd->add_option("--spec", o->specs, "durable-agent and/or local-research spec (repeat for both)")->required();
  auto* stdio = cmd->add_flag("--stdio", o->stdio, "JSON-RPC over stdin/stdout, one message per line");
  auto* http = cmd->add_option("--http", o->http, "Streamable HTTP on [HOST:]PORT at /mcp (default host 127.0.0.1)");
  stdio->excludes(http);
  cmd->add_option("--tokens", o->tokens, "bearer tokens -> principals (required beyond loopback)");
  cmd->add_option("--as", o->as, "principal of unauthenticated clients (stdio, or HTTP without --tokens)");
  cmd->add_option("--state-dir", o->state_dir, "the agent's SQLite components live here");
  cmd->add_option("--journal", o->journal, "the agent's journal (SQLite file or postgresql:// URI)");
  cmd->add_option("--store", o->store, "the research index (default: the one `keel run` builds)");
  cmd->add_option("--allow-origin", o->origins, "an Origin allowed besides localhost (repeat)");
  cmd->callback([o, &exit_code] { exit_code = serve(*o); });
}

}  // namespace keel::app
