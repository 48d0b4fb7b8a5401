#include "core/signature.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/hash.h"

namespace keel {

namespace {

void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) std::abort();  // cannot happen unless the library is broken
    return true;
  }();
  (void)ready;
}

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

template <size_t N>
Result<std::array<uint8_t, N>> parse_fixed_hex(std::string_view hex, const char* what) {
  KEEL_ASSIGN_OR_RETURN(auto bytes, from_hex(hex));
  if (bytes.size() != N) {
    return Status::invalid_argument(
        fmt::format("{} must be {} bytes ({} hex digits), got {} bytes", what, N, 2 * N,
                    bytes.size()));
  }
  std::array<uint8_t, N> out{};
  std::memcpy(out.data(), bytes.data(), N);
  return out;
}

}  // namespace

Ed25519KeyPair ed25519_generate() {
  ensure_sodium();
  Ed25519KeyPair kp;
  crypto_sign_ed25519_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

Ed25519KeyPair ed25519_from_seed(const std::array<uint8_t, 32>& seed) {
  ensure_sodium();
  Ed25519KeyPair kp;
  crypto_sign_ed25519_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data());
  return kp;
}

Ed25519Signature ed25519_sign(std::span<const uint8_t> message, const Ed25519SecretKey& secret) {
  ensure_sodium();
  Ed25519Signature sig{};
  crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(),
                               secret.data());
  return sig;
}

Ed25519Signature ed25519_sign(std::string_view message, const Ed25519SecretKey& secret) {
  return ed25519_sign(as_bytes(message), secret);
}

Status ed25519_verify(std::span<const uint8_t> message, const Ed25519Signature& signature,
                      const Ed25519PublicKey& public_key) {
  ensure_sodium();
  if (crypto_sign_ed25519_verify_detached(signature.data(), message.data(), message.size(),
                                          public_key.data()) != 0) {
    return Status::permission_denied(
        "Ed25519 signature does not verify: the data or the signature was altered, or it was "
        "signed by another key");
  }
  return Status();
}

Status ed25519_verify(std::string_view message, const Ed25519Signature& signature,
                      const Ed25519PublicKey& public_key) {
  return ed25519_verify(as_bytes(message), signature, public_key);
}

Result<Ed25519PublicKey> parse_ed25519_public_key_hex(std::string_view hex) {
  return parse_fixed_hex<32>(hex, "Ed25519 public key");
}

Result<Ed25519Signature> parse_ed25519_signature_hex(std::string_view hex) {
  return parse_fixed_hex<64>(hex, "Ed25519 signature");
}

std::string format_ed25519_public_key(const Ed25519PublicKey& key) {
  return std::string(kEd25519KeyPrefix) + to_hex(key);
}

Result<Ed25519PublicKey> parse_ed25519_public_key(std::string_view text) {
  if (!text.starts_with(kEd25519KeyPrefix)) {
    return Status::invalid_argument(fmt::format(
        "expected \"{}\" followed by 64 hex digits (`keel agent keygen` and `keel model keygen` "
        "print one)",
        kEd25519KeyPrefix));
  }
  std::string_view hex = text.substr(kEd25519KeyPrefix.size());
  bool lower_hex = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](unsigned char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  if (!lower_hex) {
    return Status::invalid_argument(fmt::format(
        "an Ed25519 public key is \"{}\" followed by 64 lower-case hex digits; got {} characters "
        "after the prefix",
        kEd25519KeyPrefix, hex.size()));
  }
  return parse_ed25519_public_key_hex(hex);
}

}  // namespace keel
