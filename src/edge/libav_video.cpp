#include "edge/libav_video.h"

#include <fmt/format.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <cstring>

namespace keel::edge {
namespace {

constexpr int kMaxSide = 8192;
constexpr const char* kFormats = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts";

std::string av_error(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

class LibavVideo : public VideoSource {
 public:
  ~LibavVideo() override {
    sws_freeContext(scaler_);
    av_frame_free(&frame_);
    av_packet_free(&packet_);
    avcodec_free_context(&codec_);
    avformat_close_input(&format_ctx_);
  }

  Status open(const std::string& path) {
    name_ = path;
    AVDictionary* options = nullptr;
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    av_dict_set(&options, "format_whitelist", kFormats, 0);
    const std::string url = "file:" + path;
    int rc = avformat_open_input(&format_ctx_, url.c_str(), nullptr, &options);
    av_dict_free(&options);
    if (rc < 0) return bad(fmt::format("cannot open it as a video ({})", av_error(rc)));
    if ((rc = avformat_find_stream_info(format_ctx_, nullptr)) < 0)
      return bad(fmt::format("cannot read its streams ({})", av_error(rc)));
    const AVCodec* decoder = nullptr;
    stream_ = av_find_best_stream(format_ctx_, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (stream_ < 0 || !decoder) return bad("it has no video stream FFmpeg can decode");
    const AVStream* s = format_ctx_->streams[stream_];
    codec_ = avcodec_alloc_context3(decoder);
    if (!codec_ || avcodec_parameters_to_context(codec_, s->codecpar) < 0)
      return bad("cannot set up its decoder");
    codec_->thread_count = 1;
    if ((rc = avcodec_open2(codec_, decoder, nullptr)) < 0)
      return bad(fmt::format("cannot open its {} decoder ({})", decoder->name, av_error(rc)));
    if (codec_->width < 1 || codec_->height < 1 || codec_->width > kMaxSide || codec_->height > kMaxSide)
      return bad(fmt::format("frame size {}x{} is not within 1..{}", codec_->width, codec_->height, kMaxSide));
    format_.width = codec_->width;
    format_.height = codec_->height;
    format_.colour_space = decoder->name;
    format_.frame_bytes = static_cast<size_t>(codec_->width) * static_cast<size_t>(codec_->height);
    if (s->avg_frame_rate.num > 0 && s->avg_frame_rate.den > 0) format_.fps = av_q2d(s->avg_frame_rate);
    frame_ = av_frame_alloc();
    packet_ = av_packet_alloc();
    if (!frame_ || !packet_) return Status::internal("out of memory for a video frame");
    return Status();
  }

  Result<std::optional<VideoFrame>> next() override {
    while (true) {
      const int rc = avcodec_receive_frame(codec_, frame_);
      if (rc == 0) return convert();
      if (rc == AVERROR_EOF) return std::optional<VideoFrame>();
      if (rc != AVERROR(EAGAIN)) return bad_frame(av_error(rc));
      if (flushed_) return std::optional<VideoFrame>();
      // The decoder wants input: the next packet of the video stream, or the end.
      int read = av_read_frame(format_ctx_, packet_);
      while (read >= 0 && packet_->stream_index != stream_) {
        av_packet_unref(packet_);
        read = av_read_frame(format_ctx_, packet_);
      }
      const int sent = avcodec_send_packet(codec_, read >= 0 ? packet_ : nullptr);
      if (read >= 0) av_packet_unref(packet_);
      if (read < 0) flushed_ = true;
      if (sent < 0 && sent != AVERROR_EOF) return bad_frame(av_error(sent));
    }
  }

  const VideoFormat& format() const override { return format_; }

 private:
  Status bad(const std::string& why) const {
    return Status::invalid_argument(fmt::format("{}: {}", name_, why));
  }
  Status bad_frame(const std::string& why) const {
    return Status::invalid_argument(fmt::format("{}: frame {} cannot be decoded ({})", name_, next_index_, why));
  }

  Result<std::optional<VideoFrame>> convert() {
    if (frame_->width != format_.width || frame_->height != format_.height) {
      av_frame_unref(frame_);
      return bad_frame("the frame size changed mid-stream");
    }
    scaler_ = sws_getCachedContext(scaler_, frame_->width, frame_->height,
                                   static_cast<AVPixelFormat>(frame_->format), frame_->width,
                                   frame_->height, AV_PIX_FMT_GRAY8, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!scaler_) {
      av_frame_unref(frame_);
      return bad_frame("no conversion from its pixel format to grey");
    }
    VideoFrame out;
    out.index = next_index_++;
    out.width = frame_->width;
    out.height = frame_->height;
    out.luma.resize(static_cast<size_t>(out.width * out.height));
    uint8_t* planes[4] = {out.luma.data(), nullptr, nullptr, nullptr};
    int strides[4] = {static_cast<int>(out.width), 0, 0, 0};
    sws_scale(scaler_, frame_->data, frame_->linesize, 0, frame_->height, planes, strides);
    av_frame_unref(frame_);
    return std::optional<VideoFrame>(std::move(out));
  }

  std::string name_;
  AVFormatContext* format_ctx_ = nullptr;
  AVCodecContext* codec_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
  SwsContext* scaler_ = nullptr;
  int stream_ = -1;
  bool flushed_ = false;
  int64_t next_index_ = 0;
  VideoFormat format_;
};

}  // namespace

Result<std::unique_ptr<VideoSource>> open_libav_video(const std::string& path) {
  av_log_set_level(AV_LOG_QUIET);  // its reasons come back in the Status
  auto video = std::make_unique<LibavVideo>();
  KEEL_RETURN_IF_ERROR(video->open(path));
  return std::unique_ptr<VideoSource>(std::move(video));
}

}  // namespace keel::edge
