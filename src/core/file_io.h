// Whole-file reads and writes for small files (records, reports, metrics).
//
// Contract: read_file() refuses files over max_bytes and anything that is not a regular file
// (a FIFO or a device would never end) with a Status naming the path; write_file_atomically()
// writes a temporary file beside the target, flushes it to disk, renames it over the target and
// flushes the folder, so a reader (or a restart after a crash) sees the old contents or the new,
// never a part.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace keel {

[[nodiscard]] Result<std::string> read_file(const std::string& path, uint64_t max_bytes = 64ull << 20);
[[nodiscard]] Status write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace keel
