#include "core/json.h"

#include <fmt/format.h>

#include "core/utf8.h"

namespace keel {

namespace {

// Depth is checked before nlohmann builds anything, with a scan that understands strings, so a
// hostile document of a million '[' fails fast instead of recursing.
Status check_depth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return Status::invalid_argument(
            fmt::format("JSON nested deeper than {} levels at byte {}", max_depth, i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status();
}

}  // namespace

Result<Json> parse_json(std::string_view text, int max_depth) {
  KEEL_RETURN_IF_ERROR(check_depth(text, max_depth));
  if (auto bad = first_invalid_utf8(text); bad.has_value()) {
    return Status::invalid_argument(fmt::format("JSON is not valid UTF-8 at byte {}", *bad));
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...".
    std::string what = e.what();
    auto pos = what.find("] ");
    return Status::invalid_argument(
        fmt::format("invalid JSON: {}", pos == std::string::npos ? what : what.substr(pos + 2)));
  } catch (const std::exception& e) {
    return Status::invalid_argument(fmt::format("invalid JSON: {}", e.what()));
  }
}

std::string dump_json(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

std::string canonical_json(const Json& value) {
  // nlohmann::json objects are std::map-backed, so keys are already sorted.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace keel
