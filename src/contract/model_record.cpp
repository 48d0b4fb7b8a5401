#include "contract/model_record.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/json.h"

namespace keel::contract {

std::string model_record_path(const std::string& model_path) {
  return model_path + ".keel-check.json";
}

Result<FileStamp> stat_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    std::string message = fmt::format("cannot stat {}: {}", path, std::strerror(errno));
    if (errno == ENOENT) return Status::not_found(message);
    return Status::unavailable(message);
  }
  return FileStamp{static_cast<uint64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Result<ModelRecord> read_model_record(const std::string& model_path) {
  const std::string path = model_record_path(model_path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(fmt::format("no compatibility record {}", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = parse_json(buffer.str());
  if (!parsed.ok()) return Status::data_loss(fmt::format("{}: {}", path, parsed.status().message()));
  const Json& j = *parsed;
  if (!j.is_object() || j.value("keel_record", 0) != 1) {
    return Status::data_loss(fmt::format("{}: not a keel compatibility record", path));
  }
  try {
    ModelRecord r;
    r.file = j.at("file").get<std::string>();
    r.file_size = j.at("file_size").get<uint64_t>();
    r.file_mtime_ns = j.at("file_mtime_ns").get<int64_t>();
    r.sha256 = j.at("sha256").get<std::string>();
    r.engine_version = j.at("engine_version").get<std::string>();
    r.format = j.value("format", "");
    r.architecture = j.value("architecture", "");
    r.self_test_passed = j.at("self_test").at("passed").get<bool>();
    r.self_test_detail = j.at("self_test").value("detail", "");
    r.checked_at_unix_s = j.value("checked_at_unix_s", int64_t{0});
    return r;
  } catch (const std::exception& e) {
    return Status::data_loss(fmt::format("{}: malformed record: {}", path, e.what()));
  }
}

Status write_model_record(const std::string& model_path, const ModelRecord& r) {
  Json j = {{"keel_record", 1},
            {"file", r.file},
            {"file_size", r.file_size},
            {"file_mtime_ns", r.file_mtime_ns},
            {"sha256", r.sha256},
            {"engine_version", r.engine_version},
            {"format", r.format},
            {"architecture", r.architecture},
            {"self_test", {{"passed", r.self_test_passed}, {"detail", r.self_test_detail}}},
            {"checked_at_unix_s", r.checked_at_unix_s}};
  const std::string path = model_record_path(model_path);
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::unavailable(fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
    out << dump_json(j, 2) << '\n';
    if (!out.flush()) return Status::unavailable(fmt::format("cannot write {}", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::unavailable(fmt::format("cannot rename {} to {}: {}", temp, path,
                                           std::strerror(errno)));
  }
  return Status();
}

}  // namespace keel::contract
