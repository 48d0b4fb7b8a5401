// The model compatibility record: a small JSON sidecar written next to a model file by
// `keel check-model` after the engine loaded the file and ran a self-test. Check K009 reads
// it; a spec whose model has no current record is warned, one whose file is missing fails.
//
// File: "<model path>.keel-check.json", for example models/tiny.gguf.keel-check.json:
//   {"keel_record": 1, "file": "tiny.gguf", "file_size": N, "file_mtime_ns": N,
//    "sha256": "<hex>", "engine_version": "0.1.0", "format": "gguf", "architecture": "llama",
//    "self_test": {"passed": true, "detail": "..."}, "checked_at_unix_s": N}
//
// Contract: reading never throws; a missing sidecar is not_found, an unreadable or malformed
// one is data_loss with the reason. A record is current for a file when size and mtime match
// (and, where the caller has hashed the file, the hash).
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace keel::contract {

struct ModelRecord {
  std::string file;  //!< file name only
  uint64_t file_size = 0;
  int64_t file_mtime_ns = 0;
  std::string sha256;
  std::string engine_version;
  std::string format;
  std::string architecture;
  bool self_test_passed = false;
  std::string self_test_detail;
  int64_t checked_at_unix_s = 0;
};

std::string model_record_path(const std::string& model_path);

[[nodiscard]] Result<ModelRecord> read_model_record(const std::string& model_path);
//! Writes atomically (temp file + rename).
[[nodiscard]] Status write_model_record(const std::string& model_path, const ModelRecord& record);

//! Size and modification time of a file, for comparing with a record.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};
[[nodiscard]] Result<FileStamp> stat_file(const std::string& path);

}  // namespace keel::contract
