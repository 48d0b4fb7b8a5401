// keel keygen --tenant ID: a new random API key, and the key-file entry that stores its hash.
#include <CLI/CLI.hpp>
#include <sodium.h>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "core/hash.h"

namespace keel::app {

void add_keygen_command(CLI::App& root, int& exit_code) {
  auto tenant = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand("keygen", "Make an API key for keel serve (prints the key and its stored hash)");
  cmd->add_option("--tenant", *tenant, "tenant the key belongs to")->required();
  cmd->callback([tenant, &exit_code] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "keel keygen: no random source\n");
      exit_code = 1;
      return;
    }
    std::array<uint8_t, 24> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::string key = "keel-" + to_hex(bytes);
    std::printf("key (give it to the client; it is not stored): %s\n", key.c_str());
    std::printf("key file entry:\n  - id: %s\n    keys_sha256: [%s]\n", tenant->c_str(), sha256_hex(key).c_str());
    exit_code = 0;
  });
}

}  // namespace keel::app
