#include "edge/video_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "edge/libav_video.h"

namespace keel::edge {
namespace {

constexpr size_t kMaxHeaderLine = 1024;
constexpr int64_t kMaxSide = 8192;

Status bad(const std::string& name, const std::string& why) {
  return Status::invalid_argument(fmt::format("{}: {}", name, why));
}

}  // namespace

// The byte stream: a FILE (a file or standard input) or bytes in memory.
struct Y4mReader::Input {
  FILE* file = nullptr;
  bool owns = false;
  std::string bytes;
  size_t at = 0;

  ~Input() {
    if (owns && file) std::fclose(file);
  }
  // Reads up to n bytes; returns how many.
  size_t read(char* out, size_t n) {
    if (file) return std::fread(out, 1, n, file);
    const size_t k = std::min(n, bytes.size() - at);
    std::memcpy(out, bytes.data() + at, k);
    at += k;
    return k;
  }
  // A line up to '\n' (not included); nothing at end of input; too_long when over `max`.
  std::optional<std::string> line(size_t max, bool& too_long) {
    std::string out;
    char c;
    while (read(&c, 1) == 1) {
      if (c == '\n') return out;
      if (out.size() >= max) {
        too_long = true;
        return out;
      }
      out.push_back(c);
    }
    if (out.empty()) return std::nullopt;
    return out;  // cut short: the caller sees a line without its frame
  }
};

Result<VideoFormat> parse_y4m_header(std::string_view line) {
  if (!line.starts_with("YUV4MPEG2"))
    return Status::invalid_argument("not a YUV4MPEG2 stream (no YUV4MPEG2 header)");
  VideoFormat f;
  f.colour_space = "420";
  std::istringstream in{std::string(line.substr(9))};
  for (std::string token; in >> token;) {
    const char tag = token[0];
    const std::string value = token.substr(1);
    try {
      if (tag == 'W') {
        f.width = std::stoll(value);
      } else if (tag == 'H') {
        f.height = std::stoll(value);
      } else if (tag == 'F') {
        const auto colon = value.find(':');
        if (colon == std::string::npos) return Status::invalid_argument("frame rate must be N:D");
        const double num = std::stod(value.substr(0, colon)), den = std::stod(value.substr(colon + 1));
        if (num > 0 && den > 0) f.fps = num / den;
      } else if (tag == 'I') {
        if (value != "p" && value != "?")
          return Status::invalid_argument("interlaced video is not supported (I" + value + ")");
      } else if (tag == 'C') {
        if (value == "mono" || value == "420" || value == "422" || value == "444") {
          f.colour_space = value;
        } else if (value == "420jpeg" || value == "420paldv" || value == "420mpeg2") {
          f.colour_space = "420";
        } else {
          return Status::invalid_argument("unsupported colour space C" + value);
        }
      }
      // A (aspect), X (extensions): not needed.
    } catch (const std::exception&) {
      return Status::invalid_argument("header field " + token + " is not a number");
    }
  }
  if (f.width < 1 || f.height < 1 || f.width > kMaxSide || f.height > kMaxSide)
    return Status::invalid_argument(fmt::format("frame size {}x{} is not within 1..{}", f.width,
                                                f.height, kMaxSide));
  const auto luma = static_cast<size_t>(f.width * f.height);
  const auto half_w = static_cast<size_t>((f.width + 1) / 2);
  const auto half_h = static_cast<size_t>((f.height + 1) / 2);
  if (f.colour_space == "mono") f.frame_bytes = luma;
  if (f.colour_space == "420") f.frame_bytes = luma + 2 * half_w * half_h;
  if (f.colour_space == "422") f.frame_bytes = luma + 2 * half_w * static_cast<size_t>(f.height);
  if (f.colour_space == "444") f.frame_bytes = 3 * luma;
  return f;
}

Result<std::unique_ptr<VideoSource>> open_video(const std::string& path) {
  bool y4m = path == "-";
  if (!y4m) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return Status::not_found(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    char magic[9] = {};
    y4m = std::fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
          std::memcmp(magic, "YUV4MPEG2", sizeof(magic)) == 0;
    std::fclose(f);
  }
  if (!y4m) return open_libav_video(path);
  KEEL_ASSIGN_OR_RETURN(Y4mReader reader, Y4mReader::open(path));
  return std::unique_ptr<VideoSource>(std::make_unique<Y4mReader>(std::move(reader)));
}

Result<Y4mReader> Y4mReader::open(const std::string& path) {
  auto in = std::make_shared<Input>();
  if (path == "-") {
    in->file = stdin;
  } else {
    in->file = std::fopen(path.c_str(), "rb");
    if (!in->file) return Status::not_found(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    in->owns = true;
  }
  Y4mReader r(std::move(in));
  r.name_ = path == "-" ? "standard input" : path;
  KEEL_RETURN_IF_ERROR(r.read_header());
  return r;
}

Result<Y4mReader> Y4mReader::from_bytes(std::string bytes) {
  auto in = std::make_shared<Input>();
  in->bytes = std::move(bytes);
  Y4mReader r(std::move(in));
  r.name_ = "video";
  KEEL_RETURN_IF_ERROR(r.read_header());
  return r;
}

Status Y4mReader::read_header() {
  bool too_long = false;
  auto line = in_->line(kMaxHeaderLine, too_long);
  if (!line || too_long) return bad(name_, "no YUV4MPEG2 header line (or one over 1 KiB)");
  auto f = parse_y4m_header(*line);
  if (!f.ok()) return bad(name_, std::string(f.status().message()));
  format_ = *f;
  return Status();
}

Result<std::optional<VideoFrame>> Y4mReader::next() {
  bool too_long = false;
  auto line = in_->line(kMaxHeaderLine, too_long);
  if (!line) return std::optional<VideoFrame>();
  if (too_long || !line->starts_with("FRAME"))
    return bad(name_, fmt::format("frame {} does not start with FRAME", next_index_));
  VideoFrame frame;
  frame.index = next_index_++;
  frame.width = format_.width;
  frame.height = format_.height;
  const auto luma = static_cast<size_t>(format_.width * format_.height);
  frame.luma.resize(luma);
  if (in_->read(reinterpret_cast<char*>(frame.luma.data()), luma) != luma)
    return bad(name_, fmt::format("frame {} is cut short", frame.index));
  // The chroma planes are read past, in pieces, so only one frame's luma is ever held.
  size_t rest = format_.frame_bytes - luma;
  char skip[4096];
  while (rest > 0) {
    const size_t n = in_->read(skip, std::min(rest, sizeof(skip)));
    if (n == 0) return bad(name_, fmt::format("frame {} is cut short", frame.index));
    rest -= n;
  }
  return std::optional<VideoFrame>(std::move(frame));
}

}  // namespace keel::edge
