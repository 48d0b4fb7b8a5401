#include "rag/token_authenticator.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/file_io.h"
#include "net/http_client.h"

namespace keel::rag {
namespace {

// The file's identity and version: modification time mixed with its inode and size, so a file
// replaced by rename within the clock's tick is still seen as changed.
int64_t file_stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return mtime ^ (static_cast<int64_t>(st.st_ino) * 1'000'003) ^ (static_cast<int64_t>(st.st_size) << 40);
}

// The key set at a URL: https, or plain http to this machine only.
Result<std::string> fetch_jwks(const std::string& url) {
  const bool https = url.rfind("https://", 0) == 0;
  const bool loopback = url.rfind("http://127.0.0.1", 0) == 0 || url.rfind("http://localhost", 0) == 0 ||
                        url.rfind("http://[::1]", 0) == 0;
  if (!https && !loopback)
    return Status::invalid_argument(
        fmt::format("{}: a key set is fetched over https:// (plain http only from this machine)", url));
  net::HttpClientRequest request;
  request.url = url;
  request.timeout_ms = 5000;
  request.max_response_bytes = 1 << 20;
  KEEL_ASSIGN_OR_RETURN(auto response, net::http_fetch(request));
  if (response.status != 200)
    return Status::unavailable(fmt::format("{} answered {} for the key set", url, response.status));
  return response.body;
}

}  // namespace

Result<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::create(std::string jwks_path, JwtExpectations expect,
                                                                       semantic::ClaimMapping mapping,
                                                                       int64_t min_refetch_ms) {
  std::unique_ptr<TokenAuthenticator> a(
      new TokenAuthenticator(std::move(jwks_path), std::move(expect), std::move(mapping)));
  a->min_refetch_ms_ = min_refetch_ms;
  KEEL_RETURN_IF_ERROR(a->load());
  return a;
}

bool TokenAuthenticator::is_url() const {
  return path_.rfind("https://", 0) == 0 || path_.rfind("http://", 0) == 0;
}

Status TokenAuthenticator::load() {
  const int64_t mtime = is_url() ? 0 : file_stamp(path_);
  KEEL_ASSIGN_OR_RETURN(std::string jwks, is_url() ? fetch_jwks(path_) : read_file(path_, 1 << 20));
  KEEL_ASSIGN_OR_RETURN(auto verifier, JwtVerifier::from_jwks(jwks, expect_));
  std::lock_guard lock(mu_);
  verifier_ = std::move(verifier);
  file_stamp_ = mtime;
  fetched_at_ns_ = monotonic_now_ns();
  ++loads_;
  return Status();
}

bool TokenAuthenticator::stale_locked() {
  if (!is_url()) return file_stamp(path_) != file_stamp_;  // one stat per refused token
  const int64_t now = monotonic_now_ns();
  if (now - fetched_at_ns_ < min_refetch_ms_ * 1'000'000) return false;
  fetched_at_ns_ = now;  // a burst of refused tokens fetches once per interval
  return true;
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
      reload = stale_locked();
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
