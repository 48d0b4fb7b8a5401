#include "core/key_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "core/file_io.h"
#include "core/hash.h"
#include "core/json.h"

namespace keel {

namespace {

constexpr uint64_t kMaxKeyFileBytes = 64 * 1024;

}  // namespace

Result<Ed25519KeyFile> read_ed25519_key_file(const std::string& path, const KeyFileKind& kind) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxKeyFileBytes));
  auto parsed = parse_json(text);
  auto bad = [&](const std::string& what) {
    return Status::invalid_argument(
        fmt::format("{} is not a {} file: {}", path, kind.marker, what));
  };
  if (!parsed.ok() || !parsed->is_object())
    return bad(fmt::format("expected a JSON object (`{}` writes one)", kind.made_by));
  const Json& j = *parsed;
  if (j.value(std::string(kind.marker), Json()) != Json(1))
    return bad(fmt::format("\"{}\": 1 is missing", kind.marker));
  for (std::string_view field : {kind.owner_field, std::string_view("public_key"),
                                 std::string_view("seed")}) {
    const std::string name(field);
    if (!j.contains(name) || !j[name].is_string())
      return bad(fmt::format("\"{}\" must be a string", name));
  }
  auto seed_bytes = from_hex(j["seed"].get<std::string>());
  if (!seed_bytes.ok() || seed_bytes->size() != 32) return bad("\"seed\" must be 64 hex digits");
  std::array<uint8_t, 32> seed{};
  std::memcpy(seed.data(), seed_bytes->data(), seed.size());
  Ed25519KeyFile key;
  key.owner = j[std::string(kind.owner_field)].get<std::string>();
  key.keys = ed25519_from_seed(seed);
  std::memset(seed.data(), 0, seed.size());
  auto written = parse_ed25519_public_key(j["public_key"].get<std::string>());
  if (!written.ok()) return bad("\"public_key\": " + written.status().message());
  if (*written != key.keys.public_key)
    return bad("its public_key is not the one its seed makes (the file was altered)");
  if (j.contains("demo_only")) {
    if (!j["demo_only"].is_boolean()) return bad("\"demo_only\" must be true or false");
    key.demo_only = j["demo_only"].get<bool>();
  }
  return key;
}

Status write_ed25519_key_file(const std::string& path, const KeyFileKind& kind,
                              const Ed25519KeyFile& key, std::string_view note) {
  Json j = {{std::string(kind.marker), 1},
            {std::string(kind.owner_field), key.owner},
            {"public_key", format_ed25519_public_key(key.keys.public_key)},
            {"seed", to_hex(std::span<const uint8_t>(key.keys.secret_key.data(), 32))},
            {"note", std::string(note)}};
  if (key.demo_only) j["demo_only"] = true;
  const std::string text = dump_json(j, 2) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::already_exists(
          fmt::format("{} exists; a key is never overwritten (choose another --out)", path));
    }
    return Status::internal(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Status::internal(fmt::format("cannot write {}: {}", path, std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  if (::close(fd) != 0 || !synced) {
    return Status::internal(
        fmt::format("cannot write {}: {}", path, std::strerror(synced ? errno : sync_errno)));
  }
  return Status();
}

}  // namespace keel
