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

#include "agent/agent_deployment.h"
#include "apps/keel/commands.h"
#include "assistant/local_research_run.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/version.h"
#include "mcp/agent_tools.h"
#include "mcp/mcp_client.h"
#include "mcp/document_resources.h"
#include "mcp/mcp_server.h"
#include "mcp/transports.h"

namespace keel::app {

void add_mcp_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::vector<std::string> specs;
    bool stdio = false;
    std::string http, tokens, as, state_dir, store, journal;
    std::vector<std::string> origins;
  };
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
  cmd->callback([o, &exit_code] {
    auto fail = [&](const std::string& message, int code = 1) {
      std::fprintf(stderr, "keel mcp serve: %s\n", message.c_str());
      exit_code = code;
    };
    if (!o->stdio && o->http.empty()) return fail("choose a transport: --stdio or --http [HOST:]PORT");
    mcp::McpServer server("keel", std::string(keel_version()),
                          "Keel deployment over MCP. Write tools need an idempotency_key; reuse it to retry. Actions that need a "
                          "human return status pending_approval and run only after approval.");
    std::vector<contract::Spec> specs;
    specs.reserve(o->specs.size());
    std::vector<std::unique_ptr<agent::AgentDeployment>> agents;
    bool egress_none = true;
    std::string default_principal = o->as;
    for (const auto& path : o->specs) {
      auto spec = contract::load_spec(path);
      if (!spec.ok()) return fail(spec.status().message());
      for (const auto& c : contract::run_checks(*spec)) {
        if (c.status == contract::CheckStatus::fail) return fail(fmt::format("{} is refused: {} {}", path, c.id, c.message), 2);
      }
      specs.push_back(std::move(*spec));
      const contract::Spec& s = specs.back();
      egress_none = egress_none && s.deployment.egress.none;
      // Connections this process opens (outside MCP servers, model endpoints) are held to the
      // allow-lists of the specs loaded so far.
      std::vector<const contract::Spec*> loaded;
      for (const auto& each : specs) loaded.push_back(&each);
      contract::restrict_egress_to(loaded);
      if (s.scenario == contract::ScenarioId::durable_agent) {
        agent::AgentDeploymentOptions d;
        auto remote = mcp::connect_mcp_tools(s);
        if (!remote.ok()) return fail(remote.status().to_string());
        d.extra_tools = std::move(*remote);
        d.state_dir = o->state_dir;
        d.journal = o->journal;
        auto deployment = agent::AgentDeployment::open(s, d);
        if (!deployment.ok()) return fail(deployment.status().to_string());
        if (default_principal.empty()) default_principal = (*deployment)->default_principal();
        // Approval tools only where every principal is proven by a bearer token.
        server.add_tools(std::make_shared<mcp::AgentTools>(**deployment, s, !o->stdio && !o->tokens.empty()));
        agents.push_back(std::move(*deployment));
      } else if (s.scenario == contract::ScenarioId::local_research) {
        const contract::DataSource* folder = nullptr;
        for (const auto& src : s.data.sources) {
          if (src.kind == contract::SourceKind::folder) folder = &src;
        }
        if (!folder) return fail(path + " has no document folder");
        std::string store = o->store.empty() ? assistant::default_store_path(s.name) : o->store;
        if (!std::filesystem::exists(store)) {
          return fail(fmt::format("no index at {}: build it with `keel index` (or `keel run {}`) first", store, path));
        }
        auto docs = mcp::DocumentResources::open(store, contract::resolve_spec_path(s, folder->path));
        if (!docs.ok()) return fail(docs.status().to_string());
        server.add_resources(*docs);
        server.add_prompts(std::make_shared<mcp::DocumentPrompts>(*docs));
      } else {
        return fail(fmt::format("{} is a {} spec; MCP serves durable-agent and local-research specs", path,
                                contract::enum_name(s.scenario)));
      }
    }
    // A principal nobody declared would see no tools at all: refuse the typo instead.
    auto known = [&](const std::string& principal) {
      return std::any_of(agents.begin(), agents.end(), [&](const auto& a) { return a->policy().knows_principal(principal); });
    };
    if (!agents.empty() && !default_principal.empty() && !known(default_principal)) {
      return fail(fmt::format("--as {}: no spec declares this principal", default_principal));
    }
    if (!agents.empty() && !o->tokens.empty()) {
      auto tokens = mcp::TokenFile::load(o->tokens);
      if (!tokens.ok()) return fail(tokens.status().message());
      for (const auto& p : tokens->principals()) {
        if (!known(p)) return fail(fmt::format("{}: principal {} is not declared in any spec", o->tokens, p));
      }
    }
    if (o->stdio) {
      if (egress_none) {
        // Standard input and output stay (they may be the client's socket pair); a PostgreSQL
        // journal's Unix socket too.
        Status guard = contract::install_egress_guard(contract::guard_profile_for_store(o->journal));
        if (!guard.ok()) return fail(guard.to_string());
      }
      mcp::serve_stdio(server, default_principal, std::cin, std::cout);
      exit_code = 0;
      return;
    }
    mcp::HttpOptions h;
    std::string port = o->http;
    if (auto colon = o->http.rfind(':'); colon != std::string::npos) {
      h.host = o->http.substr(0, colon);
      port = o->http.substr(colon + 1);
      if (h.host.size() > 2 && h.host.front() == '[') h.host = h.host.substr(1, h.host.size() - 2);
    }
    try {
      int p = std::stoi(port);
      if (p < 0 || p > 65535) throw std::out_of_range("port");
      h.port = static_cast<uint16_t>(p);
    } catch (const std::exception&) {
      return fail(fmt::format("--http {}: expected [HOST:]PORT", o->http));
    }
    // K018: a listener beyond loopback must not serve private data the spec keeps on this machine.
    for (const auto& s : specs) {
      if (auto exposed = contract::check_listener_exposure(s, "keel mcp serve --http", h.host)) {
        return fail(fmt::format("{} is refused: {} {}", s.file, exposed->id, exposed->message), 2);
      }
    }
    h.tokens_path = o->tokens;
    h.default_principal = default_principal;
    h.allowed_origins = o->origins;
    auto transport = mcp::HttpTransport::create(server, h);
    if (!transport.ok()) return fail(transport.status().message());
    if (egress_none) {
      // Listening is done; accepted connections need no socket() call.
      Status guard = contract::install_egress_guard(contract::EgressGuardProfile::inbound_only);
      if (!guard.ok()) return fail(guard.to_string());
    }
    std::fprintf(stderr, "keel mcp: listening on http://%s:%u/mcp\n", h.host.find(':') != std::string::npos ? ("[" + h.host + "]").c_str() : h.host.c_str(),
                 (*transport)->port());
    (*transport)->run();
    exit_code = 0;
  });
}

}  // namespace keel::app
