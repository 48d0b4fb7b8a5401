#include "core/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/closest_match.h"
#include "core/file_io.h"
#include "core/utf8.h"

namespace keel {

int yaml_line_of(const YAML::Node& node) {
  YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

Result<YAML::Node> parse_yaml(std::string_view text, std::string_view file) {
  if (auto bad = first_invalid_utf8(text)) {
    const auto line = 1 + std::count(text.begin(), text.begin() + *bad, '\n');
    return Status::invalid_argument(
        fmt::format("{}: line {}: not valid UTF-8 at byte {}", file, line, *bad));
  }
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::invalid_argument(fmt::format("{}: line {}: YAML syntax error: {}", file,
                                                e.mark.is_null() ? 0 : e.mark.line + 1, e.msg));
  }
}

Result<YAML::Node> load_yaml_file(const std::string& path, uint64_t max_bytes) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, max_bytes));
  return parse_yaml(text, path);
}

void YamlReader::error(const std::string& path, const YAML::Node& node, std::string message) {
  errors.push_back({path, yaml_line_of(node), std::move(message)});
}

YamlReader::Map::Map(YamlReader* reader, YAML::Node node, std::string path, int fallback_line)
    : reader_(reader), node_(std::move(node)), path_(std::move(path)), line_(fallback_line) {
  if (!valid()) return;
  line_ = yaml_line_of(node_);
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
    if (!seen.insert(key).second) reader_->error(child_path(key), it->first, "duplicate key");
  }
}

std::string YamlReader::Map::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

YAML::Node YamlReader::Map::get(const std::string& key) {
  known_.insert(key);
  if (!valid()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      reader_->key_lines[child_path(key)] = yaml_line_of(it->first);
      return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node YamlReader::Map::require(const std::string& key) {
  YAML::Node n = get(key);
  if (!n.IsDefined() && valid()) {
    reader_->errors.push_back({child_path(key), line_, "required key is missing"});
  }
  return n;
}

void YamlReader::Map::finish() {
  if (!valid()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      reader_->error(path_, it->first, "keys must be plain strings");
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (known_.count(key)) continue;
    std::string best = closest_match(key, {known_.begin(), known_.end()});
    std::string message = "unknown key";
    if (!best.empty()) message += fmt::format("; did you mean '{}'?", best);
    std::string allowed;
    for (const auto& k : known_) allowed += (allowed.empty() ? "" : ", ") + k;
    message += fmt::format(" (allowed here: {})", allowed);
    reader_->error(child_path(key), it->first, std::move(message));
  }
}

YamlReader::Map YamlReader::map(const YAML::Node& node, const std::string& path,
                                int fallback_line) {
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    error(path, node, fmt::format("expected a mapping, got {}", describe(node)));
    return Map(this, YAML::Node(YAML::NodeType::Undefined), path, fallback_line);
  }
  return Map(this,
             node.IsDefined() && !node.IsNull() ? node : YAML::Node(YAML::NodeType::Undefined),
             path, node.IsDefined() ? yaml_line_of(node) : fallback_line);
}

YamlReader::Map YamlReader::item(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) {
    error(path, node, fmt::format("expected a mapping, got {}", describe(node)));
    return Map(this, YAML::Node(YAML::NodeType::Undefined), path, yaml_line_of(node));
  }
  return Map(this, node, path, yaml_line_of(node));
}

std::string YamlReader::describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return fmt::format("'{}'", node.Scalar());
    default: return "nothing";
  }
}

std::optional<std::string> YamlReader::string(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined()) return std::nullopt;
  if (!node.IsScalar()) {
    error(path, node, fmt::format("expected a string, got {}", describe(node)));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<double> YamlReader::number(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined()) return std::nullopt;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && errno == 0 && std::isfinite(v)) return v;
  }
  error(path, node, fmt::format("expected a number, got {}", describe(node)));
  return std::nullopt;
}

std::optional<double> YamlReader::non_negative(const YAML::Node& node, const std::string& path) {
  auto v = number(node, path);
  if (v && *v < 0) {
    error(path, node, fmt::format("must not be negative, got {}", *v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> YamlReader::positive(const YAML::Node& node, const std::string& path) {
  auto v = number(node, path);
  if (v && *v <= 0) {
    error(path, node, fmt::format("must be more than 0, got {}", *v));
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> YamlReader::integer(const YAML::Node& node, const std::string& path,
                                           int64_t min) {
  auto v = number(node, path);
  if (!v) return std::nullopt;
  if (*v != std::floor(*v) || std::fabs(*v) > 9e15) {
    error(path, node, fmt::format("expected a whole number, got {}", node.Scalar()));
    return std::nullopt;
  }
  if (*v < static_cast<double>(min)) {
    error(path, node, fmt::format("must be at least {}, got {}", min, node.Scalar()));
    return std::nullopt;
  }
  return static_cast<int64_t>(*v);
}

std::optional<bool> YamlReader::boolean(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined()) return std::nullopt;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  error(path, node, fmt::format("expected true or false, got {}", describe(node)));
  return std::nullopt;
}

void YamlReader::list(const YAML::Node& node, const std::string& path,
                      const std::function<void(const YAML::Node&, const std::string&)>& item) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) {
    error(path, node, fmt::format("expected a list, got {}", describe(node)));
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) item(node[i], fmt::format("{}[{}]", path, i));
}

std::vector<std::string> YamlReader::string_list(const YAML::Node& node,
                                                 const std::string& path) {
  std::vector<std::string> out;
  list(node, path, [&](const YAML::Node& n, const std::string& p) {
    if (auto s = string(n, p)) out.push_back(*s);
  });
  return out;
}

std::optional<std::string> YamlReader::identifier(const YAML::Node& node,
                                                  const std::string& path) {
  auto s = string(node, path);
  if (!s) return std::nullopt;
  bool ok = !s->empty() && std::all_of(s->begin(), s->end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
  });
  if (!ok) {
    error(path, node,
          fmt::format("expected an identifier (letters, digits, - _ . :), got '{}'", *s));
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> YamlReader::sha256_hex(const YAML::Node& node,
                                                  const std::string& path) {
  auto s = string(node, path);
  if (!s) return std::nullopt;
  std::transform(s->begin(), s->end(), s->begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s->size() != 64 || s->find_first_not_of("0123456789abcdef") != std::string::npos) {
    error(path, node, "expected 64 hex digits: the SHA-256 of the secret, never the secret itself");
    return std::nullopt;
  }
  return s;
}

Status YamlReader::status(std::string_view file) const {
  if (errors.empty()) return Status();
  std::string message;
  for (const auto& e : errors) {
    if (!message.empty()) message += '\n';
    message += fmt::format("{}: {}: {}", file, e.path.empty() ? "(document)" : e.path, e.message);
    if (e.line > 0) message += fmt::format(" (line {})", e.line);
  }
  return Status::invalid_argument(std::move(message));
}

}  // namespace keel
