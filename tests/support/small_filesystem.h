// A small tmpfs mounted for one test, so a store on it meets a real ENOSPC (no mocks: the
// kernel refuses the write). Mounting needs root (CI runs as root); elsewhere ok() is false and
// error() says why, and the test skips with that reason — except under CI=true, where a test
// that cannot inject its fault fails instead.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace keel::testing {

class SmallFilesystem {
 public:
  explicit SmallFilesystem(size_t bytes) {
    std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("keel-test-tmpfs", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                options.c_str()) != 0) {
      error_ =
          "cannot mount a tmpfs on " + dir_.path() + ": " + std::strerror(errno) + " (needs root)";
      return;
    }
    mounted_ = true;
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string file(const std::string& name) const { return dir_.file(name); }
  const std::string& path() const { return dir_.path(); }

  //! Writes a filler file until the file system refuses with ENOSPC; returns the bytes written.
  int64_t fill() {
    int fd = ::open(file(".filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return -1;
    std::vector<char> block(4096, 'f');
    int64_t written = 0;
    for (;;) {
      ssize_t n = ::write(fd, block.data(), block.size());
      if (n <= 0) break;
      written += n;
    }
    // Single bytes too: the last partial page.
    while (::write(fd, block.data(), 1) == 1) ++written;
    ::close(fd);
    return written;
  }
  //! Removes the filler: space is free again.
  void free_space() { ::unlink(file(".filler").c_str()); }

  //! Under CI=true a missing fault injection is a failure, not a skip.

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace keel::testing

// Skips (outside CI) or fails (CI=true) when the tmpfs could not be mounted.
#define KEEL_REQUIRE_SMALL_FILESYSTEM(fs) \
  do {                                     \
    if (!(fs).ok()) KEEL_SKIP_OUTSIDE_CI((fs).error()); \
  } while (0)
