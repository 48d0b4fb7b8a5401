#include "context/contained_path.h"

#include <fmt/format.h>
#include <limits.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace keel::context {

namespace {

Result<std::string> real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  if (!resolved) {
    std::string message = fmt::format("cannot resolve {}: {}", path, std::strerror(errno));
    if (errno == ENOENT || errno == ENOTDIR) return Status::not_found(message);
    if (errno == EACCES) return Status::permission_denied(message);
    return Status::unavailable(message);
  }
  return std::string(resolved.get());
}

}  // namespace

Result<std::string> resolve_inside(const std::string& root, const std::string& relative) {
  KEEL_ASSIGN_OR_RETURN(std::string base, real_path(root));
  KEEL_ASSIGN_OR_RETURN(std::string target, real_path(relative.empty() ? root : root + "/" + relative));
  if (target == base || (target.size() > base.size() && target.compare(0, base.size(), base) == 0 &&
                         (base == "/" || target[base.size()] == '/'))) {
    return target;
  }
  return Status::permission_denied(
      fmt::format("{} leads outside the documents folder (to {})", relative.empty() ? root : relative, target));
}

}  // namespace keel::context
