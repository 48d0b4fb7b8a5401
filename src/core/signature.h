// Ed25519 signatures (libsodium): signed model artifacts, staged updates, sync records.
//
// Contract: verify() returns ok only when `signature` is a valid signature of exactly
// `message` under `public_key`; any mismatch is permission_denied (the artifact must not be
// trusted). Key parsing rejects wrong lengths with invalid_argument.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace keel {

using Ed25519PublicKey = std::array<uint8_t, 32>;
using Ed25519SecretKey = std::array<uint8_t, 64>;  // libsodium layout: seed || public key
using Ed25519Signature = std::array<uint8_t, 64>;

struct Ed25519KeyPair {
  Ed25519PublicKey public_key{};
  Ed25519SecretKey secret_key{};
};

Ed25519KeyPair ed25519_generate();
//! Deterministic key pair from a 32-byte seed (for reproducible test keys).
Ed25519KeyPair ed25519_from_seed(const std::array<uint8_t, 32>& seed);

Ed25519Signature ed25519_sign(std::span<const uint8_t> message, const Ed25519SecretKey& secret);
Ed25519Signature ed25519_sign(std::string_view message, const Ed25519SecretKey& secret);

[[nodiscard]] Status ed25519_verify(std::span<const uint8_t> message,
                                    const Ed25519Signature& signature,
                                    const Ed25519PublicKey& public_key);
[[nodiscard]] Status ed25519_verify(std::string_view message, const Ed25519Signature& signature,
                                    const Ed25519PublicKey& public_key);

[[nodiscard]] Result<Ed25519PublicKey> parse_ed25519_public_key_hex(std::string_view hex);

//! The text form specs, key files and manifests write: "ed25519:" + 64 lower-case hex digits.
inline constexpr std::string_view kEd25519KeyPrefix = "ed25519:";
std::string format_ed25519_public_key(const Ed25519PublicKey& key);
//! invalid_argument, naming what is wrong, for anything but kEd25519KeyPrefix + 64 hex digits.
[[nodiscard]] Result<Ed25519PublicKey> parse_ed25519_public_key(std::string_view text);
[[nodiscard]] Result<Ed25519Signature> parse_ed25519_signature_hex(std::string_view hex);

}  // namespace keel
