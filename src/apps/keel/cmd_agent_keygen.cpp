// keel agent keygen --principal ID --out FILE [--json] [--demo-only]: a new Ed25519 key pair for
// an approver. The secret goes into FILE (mode 0600, never overwritten); the public half is
// printed as the `public_key` entry for the principal in the spec's authority.principals. Like
// `keel keygen` (API keys), the entry is written by a YAML emitter.
#include <yaml-cpp/yaml.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>

#include "agent/approval.h"
#include "apps/keel/commands.h"
#include "contract/spec.h"
#include "core/json.h"
#include "core/signature.h"

namespace keel::app {

void add_agent_keygen_command(CLI::App& agent, int& exit_code) {
  struct Options {
    std::string principal, out;
    bool json = false, demo_only = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = agent.add_subcommand(
      "keygen", "Make an approver's signing key (writes the secret, prints the spec's public_key)");
  cmd->add_option("--principal", o->principal,
                  "the principal (authority.principals[].id) whose approvals it signs")
      ->required();
  cmd->add_option("--out", o->out,
                  "key file to create (mode 0600; an existing file is never overwritten)")
      ->required();
  cmd->add_flag("--json", o->json, "print {principal, key_file, public_key, spec_entry} as JSON");
  cmd->add_flag("--demo-only", o->demo_only,
                "label the key as a demo key (for a key committed with an example)");
  cmd->callback([o, &exit_code] {
    exit_code = 1;
    // The same rule as a principal id in a spec.
    const bool identifier =
        !o->principal.empty() &&
        std::all_of(o->principal.begin(), o->principal.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
        });
    if (!identifier) {
      std::fprintf(
          stderr,
          "keel agent keygen: --principal must be a spec identifier (letters, digits, - _ . :)\n");
      return;
    }
    agent::ApproverKey key;
    key.principal = o->principal;
    key.keys = ed25519_generate();
    key.demo_only = o->demo_only;
    if (Status written = agent::write_approver_key(o->out, key); !written.ok()) {
      std::fprintf(stderr, "keel agent keygen: %s\n", written.message().c_str());
      return;
    }
    const std::string public_key = contract::format_public_key(key.keys.public_key);
    YAML::Emitter entry;
    entry << YAML::Flow << YAML::BeginMap << YAML::Key << "id" << YAML::Value << o->principal
          << YAML::Key << "public_key" << YAML::Value << YAML::DoubleQuoted << public_key
          << YAML::EndMap;
    if (!entry.good()) {
      std::fprintf(stderr, "keel agent keygen: cannot write the spec entry: %s\n",
                   entry.GetLastError().c_str());
      return;
    }
    if (o->json) {
      Json j = {{"principal", o->principal},
                {"key_file", o->out},
                {"public_key", public_key},
                {"spec_entry", entry.c_str()}};
      std::printf("%s\n", dump_json(j, 2).c_str());
    } else {
      std::printf("key file (secret; only %s may hold it): %s\n", o->principal.c_str(),
                  o->out.c_str());
      std::printf("spec entry (authority.principals, with the principal's roles):\n%s\n",
                  entry.c_str());
      std::printf("approve with: keel agent approve CASE STEP --key %s --args-sha256 HASH\n",
                  o->out.c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
