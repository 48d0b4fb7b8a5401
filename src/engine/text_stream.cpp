#include "engine/text_stream.h"

#include <algorithm>

#include "core/utf8.h"

namespace keel::engine {

namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

std::string_view TextStream::append(std::string_view piece) {
  if (stopped_) return {};
  text_ += piece;
  for (const auto& s : stop_) {
    size_t from = released_ > s.size() ? released_ - s.size() : 0;
    size_t found = text_.find(s, from);
    if (found != std::string::npos && found < text_.size()) {
      text_.resize(found);
      stopped_ = true;
    }
  }
  size_t ready = stopped_ ? text_.size() : text_.size() - held_back(text_, stop_);
  if (ready <= released_) return {};
  if (!stopped_) {
    ready = released_ + complete_utf8_prefix(std::string_view(text_).substr(released_, ready - released_));
  }
  std::string_view out(text_.data() + released_, ready - released_);
  released_ = ready;
  return out;
}

std::string_view TextStream::flush() {
  std::string_view out(text_.data() + released_, text_.size() - released_);
  released_ = text_.size();
  return out;
}

}  // namespace keel::engine
