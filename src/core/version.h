// Keel's version and build identity (for `keel version`, compatibility records, /v1/models).
#pragma once

#include <string_view>

namespace keel {

std::string_view keel_version();     //!< "0.1.0"
std::string_view keel_git_commit();  //!< short hash the build was made from, or "unknown"
std::string_view keel_build_type();  //!< CMake build type
std::string_view keel_compiler();    //!< e.g. "GNU 12.2.0"

}  // namespace keel
