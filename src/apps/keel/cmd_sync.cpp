// keel sync serve: the private cloud's record sync for field devices (sync/sync_server.h).
//   keel sync serve --keys FILE (--database URI | --pg-data DIR) [--spec SPEC] [--host H] [--port P] [--threads N]
//     --keys: the gateway's key file (serve/gateway.h); each tenant is a device, its key that
//     device's. --pg-data runs a PostgreSQL cluster of its own in DIR (created on first use).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "contract/spec_parser.h"
#include "core/local_postgres.h"
#include "serve/gateway.h"
#include "sync/sync_server.h"

namespace keel::app {
namespace {

struct SyncServeOptions {
  std::string spec, keys, database, pg_data, host = "127.0.0.1";
  uint16_t port = 8095;
  size_t threads = 2;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel sync: %s\n", message.c_str());
  return 1;
}

int run_sync_serve(const SyncServeOptions& o) {
  auto spec = contract::load_spec(o.spec);
  if (!spec.ok()) return fail(spec.status().message());
  auto gateway = serve::Gateway::from_key_file(o.keys);
  if (!gateway.ok()) return fail("--keys: " + gateway.status().message());
  std::shared_ptr<serve::Gateway> keys = std::move(*gateway);
  std::unique_ptr<LocalPostgres> cluster;
  std::string conninfo = o.database;
  if (!o.pg_data.empty()) {
    auto started = LocalPostgres::start(o.pg_data, [](std::string_view line) {
      std::fprintf(stderr, "keel sync: %.*s\n", static_cast<int>(line.size()), line.data());
    });
    if (!started.ok()) return fail(started.status().message());
    cluster = std::move(*started);
    conninfo = cluster->uri();
  }
  sync::SyncServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.threads = o.threads;
  options.conninfo = conninfo;
  options.authenticate = [keys](std::string_view key) { return keys->authenticate("Bearer " + std::string(key)); };
  auto server = sync::SyncServer::create(std::move(options));
  if (!server.ok()) return fail(server.status().message());
  std::fprintf(stderr, "keel sync: %zu conflict rule(s) in %s apply on the devices; the ledger applies each mutation once\n",
               spec->sync.rules.size(), spec->file.c_str());
  std::fprintf(stderr, "keel sync: listening on http://%s:%u (POST /v1/sync/push, GET /v1/sync/pull)\n", o.host.c_str(),
               (*server)->port());
  (*server)->run();
  return 0;
}

}  // namespace

void add_sync_command(CLI::App& root, int& exit_code) {
  CLI::App* sync = root.add_subcommand("sync", "Record sync between field devices and the private cloud");
  sync->require_subcommand(1);
  auto o = std::make_shared<SyncServeOptions>();
  CLI::App* cmd = sync->add_subcommand("serve", "Serve the sync ledger (PostgreSQL) to devices with API keys");
  cmd->add_option("--spec", o->spec, "hybrid-field spec (default: examples/hybrid-field.yaml)");
  cmd->add_option("--keys", o->keys, "key file: one tenant per device (keel keygen makes the keys)")->required();
  auto* db = cmd->add_option("--database", o->database, "libpq URI of the ledger's database");
  auto* dir = cmd->add_option("--pg-data", o->pg_data, "run PostgreSQL in this folder (created on first use)");
  db->excludes(dir);
  dir->excludes(db);
  cmd->add_option("--host", o->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "port to listen on (0: any free one)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "workers, each with its own database connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->callback([o, &exit_code] {
    if (o->database.empty() && o->pg_data.empty()) {
      exit_code = fail("give --database URI or --pg-data DIR");
      return;
    }
    if (o->spec.empty()) o->spec = bundled_example("examples/hybrid-field.yaml");
    exit_code = run_sync_serve(*o);
  });
}

}  // namespace keel::app
