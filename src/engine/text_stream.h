// Turning generated tokens into streamed text: pieces are appended as tokens arrive, and only
// text that is final is released — complete UTF-8, and never (the start of) a stop string.
//
// Contract: release() returns the newly final text; once a stop string appears, the text is
// cut before it and stopped() is true; flush() releases whatever is held at the end.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keel::engine {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop = {}) : stop_(std::move(stop)) {}

  //! Appends a token's text; returns the text that became final (may be empty).
  std::string_view append(std::string_view piece);
  //! Releases what is still held (end of generation without a stop string).
  std::string_view flush();

  bool stopped() const { return stopped_; }
  //! All final text so far (cut before a stop string).
  const std::string& text() const { return text_; }

 private:
  std::vector<std::string> stop_;
  std::string text_;
  size_t released_ = 0;
  bool stopped_ = false;
};

}  // namespace keel::engine
