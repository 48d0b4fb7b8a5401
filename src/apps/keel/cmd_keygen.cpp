// keel keygen --tenant ID [--json]: a new random API key, and the key-file entry that stores its
// hash. The entry is written by a YAML emitter, so no tenant name can add keys or tenants of its
// own to the file it is pasted into.
#include <CLI/CLI.hpp>
#include <sodium.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/utf8.h"

namespace keel::app {

void add_keygen_command(CLI::App& root, int& exit_code) {
  struct Options {
    std::string tenant;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = root.add_subcommand("keygen", "Make an API key for keel serve (prints the key and its stored hash)");
  cmd->add_option("--tenant", o->tenant, "tenant the key belongs to")->required();
  cmd->add_flag("--json", o->json, "print {tenant, key, key_sha256, key_file_entry} as JSON");
  cmd->callback([o, &exit_code] {
    exit_code = 1;
    if (o->tenant.empty() || !is_valid_utf8(o->tenant) ||
        std::any_of(o->tenant.begin(), o->tenant.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      std::fprintf(stderr, "keel keygen: the tenant must be non-empty UTF-8 text without control characters\n");
      return;
    }
    if (sodium_init() < 0) {
      std::fprintf(stderr, "keel keygen: no random source\n");
      return;
    }
    std::array<uint8_t, 24> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    const std::string key = "keel-" + to_hex(bytes);
    const std::string hash = sha256_hex(key);
    YAML::Emitter entry;
    entry << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << o->tenant
          << YAML::Key << "keys_sha256" << YAML::Value << YAML::Flow << YAML::BeginSeq << hash << YAML::EndSeq
          << YAML::EndMap << YAML::EndSeq;
    if (!entry.good()) {
      std::fprintf(stderr, "keel keygen: cannot write the key-file entry: %s\n", entry.GetLastError().c_str());
      return;
    }
    if (o->json) {
      Json j = {{"tenant", o->tenant}, {"key", key}, {"key_sha256", hash}, {"key_file_entry", entry.c_str()}};
      std::printf("%s\n", dump_json(j, 2).c_str());
    } else {
      std::printf("key (give it to the client; it is not stored): %s\n", key.c_str());
      std::printf("key file entry (under tenants:):\n%s\n", entry.c_str());
    }
    exit_code = 0;
  });
}

}  // namespace keel::app
