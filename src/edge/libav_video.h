// Compressed video files for the camera pipeline (video_source.h), decoded by FFmpeg's
// libraries (libavformat, libavcodec, libswscale): each decoded frame is converted to 8-bit grey
// and handed over in memory; nothing is written.
//
// Contract: open_libav_video() accepts only files (the `file` protocol: no network, no pipes,
// no playlists that open other URLs) in the containers a camera app records (MP4/MOV, Matroska/
// WebM, AVI, MPEG-TS) and refuses anything else, naming the file and FFmpeg's reason; frames
// over 8192 pixels on a side are refused. next() returns frames in presentation order, nothing
// at the end, and invalid_argument for a stream that cannot be decoded (naming the frame).
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "edge/video_source.h"

namespace keel::edge {

[[nodiscard]] Result<std::unique_ptr<VideoSource>> open_libav_video(const std::string& path);

}  // namespace keel::edge
