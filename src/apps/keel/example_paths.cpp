#include "apps/keel/example_paths.h"

#include <filesystem>

namespace keel::app {

std::string bundled_example(const std::string& relative) {
  std::error_code ec;
  if (std::filesystem::exists(relative, ec)) return relative;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside_build = exe.parent_path().parent_path() / relative;
    if (std::filesystem::exists(beside_build, ec)) return beside_build.string();
  }
  return relative;
}

}  // namespace keel::app
