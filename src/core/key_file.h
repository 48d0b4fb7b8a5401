// Ed25519 key files: the secret half of a signing key, kept by whoever signs (an approver, a
// model publisher). One format for every kind, told apart by a marker field:
//   {"<kind>": 1, "<owner field>": ID, "public_key": "ed25519:<hex>", "seed": "<64 hex>",
//    "demo_only": bool (optional), "note": text}
//
// Contract:
// - read_ed25519_key_file() derives the key pair from the seed again and refuses a file whose
//   public_key is not the one its seed makes (altered), a missing marker (another kind of
//   file) and malformed fields, each with invalid_argument naming the file and the field.
// - write_ed25519_key_file() creates the file readable by its owner only (0600), fsyncs it,
//   and never overwrites one (already_exists).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "core/signature.h"

namespace keel {

//! What a key file is and who owns it: the marker field and the owner's field name, e.g.
//! {"keel_approver_key", "principal", "keel agent keygen"}.
struct KeyFileKind {
  std::string_view marker;
  std::string_view owner_field;
  std::string_view made_by;  //!< the command that writes one, for error messages
};

struct Ed25519KeyFile {
  std::string owner;
  Ed25519KeyPair keys;
  bool demo_only = false;  //!< committed with an example: anyone may sign with it
};

[[nodiscard]] Result<Ed25519KeyFile> read_ed25519_key_file(const std::string& path,
                                                           const KeyFileKind& kind);
//! `note` is written beside the key to tell a reader what the file is for.
[[nodiscard]] Status write_ed25519_key_file(const std::string& path, const KeyFileKind& kind,
                                            const Ed25519KeyFile& key, std::string_view note);

}  // namespace keel
