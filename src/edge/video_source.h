// Frames from a camera or a video, one at a time, kept only in memory (scenario mobile-vision).
// Two sources: YUV4MPEG2 (`.y4m`, Keel's own reader): uncompressed video that ffmpeg, GStreamer
// and the V4L2 tools write, so a real camera reaches Keel as `ffmpeg -f v4l2 -i /dev/video0 -f
// yuv4mpegpipe - | keel run SPEC --video -`; and compressed video files (MP4, Matroska/WebM, AVI,
// MPEG-TS) decoded by FFmpeg's libraries (libav_video.h). Only the luma (grey) plane is kept:
// the models read grey frames.
//
// Contract:
// - open_video() picks the Y4M reader for "-" and for a file that starts with "YUV4MPEG2", and
//   FFmpeg's decoder for any other file.
// - open() reads the stream header ("YUV4MPEG2 W.. H.. [F..] [C..] ..."): sizes 1..8192, the
//   colour spaces mono, 420 (and its jpeg/paldv/mpeg2 variants), 422 and 444; interlaced or
//   unknown colour spaces, a missing size or a header over 1 KiB are invalid_argument.
// - next() returns the next frame's luma, nothing at a clean end of the stream, and
//   invalid_argument for a frame that does not start with "FRAME" or is cut short (naming the
//   frame). Nothing is written anywhere; the reader holds one frame's bytes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace keel::edge {

struct VideoFrame {
  int64_t index = 0;  //!< from 0
  int64_t width = 0, height = 0;
  std::vector<uint8_t> luma;  //!< width x height bytes
};

struct VideoFormat {
  int64_t width = 0, height = 0;
  double fps = 0;             //!< 0 when the header does not say
  std::string colour_space;   //!< "mono", "420", "422", "444"
  size_t frame_bytes = 0;     //!< all planes of one frame
};

//! Parses one header line (without its newline).
[[nodiscard]] Result<VideoFormat> parse_y4m_header(std::string_view line);

class VideoSource {
 public:
  virtual ~VideoSource() = default;
  //! The next frame, nothing at the end, an error for a broken stream (naming the frame).
  [[nodiscard]] virtual Result<std::optional<VideoFrame>> next() = 0;
  virtual const VideoFormat& format() const = 0;
};

[[nodiscard]] Result<std::unique_ptr<VideoSource>> open_video(const std::string& path);

class Y4mReader : public VideoSource {
 public:
  //! "-" reads standard input.
  [[nodiscard]] static Result<Y4mReader> open(const std::string& path);
  //! A reader over bytes in memory (tests, fuzzing).
  [[nodiscard]] static Result<Y4mReader> from_bytes(std::string bytes);

  [[nodiscard]] Result<std::optional<VideoFrame>> next() override;
  const VideoFormat& format() const override { return format_; }

 private:
  struct Input;
  explicit Y4mReader(std::shared_ptr<Input> in) : in_(std::move(in)) {}
  [[nodiscard]] Status read_header();
  std::shared_ptr<Input> in_;
  VideoFormat format_;
  int64_t next_index_ = 0;
  std::string name_;
};

}  // namespace keel::edge
