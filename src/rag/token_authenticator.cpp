#include "rag/token_authenticator.h"

#include <sys/stat.h>

#include "core/file_io.h"

namespace keel::rag {
namespace {

int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

Result<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::create(std::string jwks_path, JwtExpectations expect,
                                                                       semantic::ClaimMapping mapping) {
  std::unique_ptr<TokenAuthenticator> a(
      new TokenAuthenticator(std::move(jwks_path), std::move(expect), std::move(mapping)));
  KEEL_RETURN_IF_ERROR(a->load());
  return a;
}

Status TokenAuthenticator::load() {
  const int64_t mtime = mtime_ns(path_);
  KEEL_ASSIGN_OR_RETURN(std::string jwks, read_file(path_, 1 << 20));
  KEEL_ASSIGN_OR_RETURN(auto verifier, JwtVerifier::from_jwks(jwks, expect_));
  std::lock_guard lock(mu_);
  verifier_ = std::move(verifier);
  file_mtime_ns_ = mtime;
  ++loads_;
  return Status();
}

int TokenAuthenticator::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

Result<semantic::Asker> TokenAuthenticator::authenticate(std::string_view token) {
  std::shared_ptr<const JwtVerifier> verifier;
  {
    std::lock_guard lock(mu_);
    verifier = verifier_;
  }
  auto verified = verifier->verify(token);
  if (!verified.ok()) {
    bool reload = false;
    {
      std::lock_guard lock(mu_);
      reload = mtime_ns(path_) != file_mtime_ns_;  // one stat per refused token
    }
    // A rotated key set that cannot be read keeps the old keys: the token stays refused.
    if (reload && load().ok()) {
      std::lock_guard lock(mu_);
      verifier = verifier_;
    }
    verified = verifier->verify(token);
  }
  if (!verified.ok()) return verified.status();
  return semantic::asker_from_claims(verified->claims, mapping_);
}

}  // namespace keel::rag
