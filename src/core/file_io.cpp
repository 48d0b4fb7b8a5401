#include "core/file_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace keel {

namespace {

Status errno_status(const std::string& what, const std::string& path) {
  std::string message = fmt::format("cannot {} {}: {}", what, path, std::strerror(errno));
  if (errno == ENOENT) return Status::not_found(message);
  if (errno == EACCES || errno == EPERM) return Status::permission_denied(message);
  if (errno == ENOSPC || errno == EDQUOT) return Status::resource_exhausted(message);
  return Status::unavailable(message);
}

}  // namespace

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno_status("open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = errno_status("stat", path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::invalid_argument(fmt::format("{} is not a regular file", path));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Status::invalid_argument(fmt::format("{} is {} bytes, more than the {} allowed", path, st.st_size, max_bytes));
  }
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = errno_status("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return Status::invalid_argument(fmt::format("{} grew past the {} bytes allowed while reading", path, max_bytes));
    }
  }
  ::close(fd);
  return out;
}

Status write_file_atomically(const std::string& path, std::string_view contents) {
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("create", temp);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = errno_status("write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = errno_status("flush", temp);
    ::close(fd);
    ::unlink(temp.c_str());
    return s;
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    Status s = errno_status("rename onto", path);
    ::unlink(temp.c_str());
    return s;
  }
  // The rename is durable once the folder's entry is on disk too (a crash right after could
  // otherwise bring back the old file). Filesystems that cannot sync a folder say EINVAL.
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (rc != 0 && err != EINVAL && err != EROFS) {
      errno = err;
      return errno_status("flush the folder of", path);
    }
  }
  return Status();
}

}  // namespace keel
