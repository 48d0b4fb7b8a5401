// The one YAML reader for Keel's configuration files (the scenario spec, the API key file, the
// MCP token file): typed reads that collect every error with its key path and line instead of
// stopping at the first, and mappings that refuse keys nobody reads ("unknown key ...; did you
// mean ...").
//
// Contract:
// - Every read takes the node and its path ("tenants[2].models"); a missing node reads as
//   nullopt without an error (the caller decides whether it was required: Map::require), a node
//   of the wrong type or out of range records an error and reads as nullopt. Nothing throws.
// - A Map records duplicate keys when opened, and finish() records every key that no get() or
//   require() asked for, with the closest known key and the allowed ones.
// - key_lines holds the 1-based line of every key read, by path (for pointing at a key).
// - load_yaml_file() refuses a file that is missing (not_found), over max_bytes, not UTF-8 or
//   not YAML (invalid_argument, with the line).
// - This header includes yaml-cpp: include it only in the files that read configuration.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel {

struct YamlError {
  std::string path;  //!< e.g. "deployment.models[1].role"; "" for the document
  int line = 0;      //!< 1-based; 0 when unknown
  std::string message;
};

//! The 1-based line of a node, 0 when it has none.
int yaml_line_of(const YAML::Node& node);

//! Parses YAML text (UTF-8 checked); `file` names it in errors.
[[nodiscard]] Result<YAML::Node> parse_yaml(std::string_view text, std::string_view file);
//! Reads a YAML file of at most max_bytes (see the contract).
[[nodiscard]] Result<YAML::Node> load_yaml_file(const std::string& path, uint64_t max_bytes);

class YamlReader {
 public:
  std::vector<YamlError> errors;
  std::map<std::string, int, std::less<>> key_lines;  //!< every key read, by path

  void error(const std::string& path, const YAML::Node& node, std::string message);

  //! A mapping whose keys are checked against the ones the reader consumed.
  class Map {
   public:
    Map(YamlReader* reader, YAML::Node node, std::string path, int fallback_line);
    bool valid() const { return node_ && node_.IsMap(); }
    const std::string& path() const { return path_; }
    int line() const { return line_; }
    std::string child_path(std::string_view key) const;
    //! The value for `key`, or an undefined node. Marks the key as known.
    YAML::Node get(const std::string& key);
    //! Like get(), and reports the key missing (only when this mapping itself exists: a missing
    //! or mistyped parent has been reported already).
    YAML::Node require(const std::string& key);
    //! Reports keys nobody asked for.
    void finish();

   private:
    YamlReader* reader_;
    YAML::Node node_;
    std::string path_;
    int line_;
    std::set<std::string> known_;
  };

  //! Opens `node` as a mapping; a missing node gives an invalid Map silently (the caller
  //! decided whether it was required), a non-mapping reports a type error.
  Map map(const YAML::Node& node, const std::string& path, int fallback_line);
  //! A list item that must be a mapping; anything else (null included) is reported.
  Map item(const YAML::Node& node, const std::string& path);

  //! "a mapping", "a list", "null", "'text'" or "nothing": for messages.
  static std::string describe(const YAML::Node& node);

  std::optional<std::string> string(const YAML::Node& node, const std::string& path);
  std::optional<double> number(const YAML::Node& node, const std::string& path);
  std::optional<double> non_negative(const YAML::Node& node, const std::string& path);
  std::optional<double> positive(const YAML::Node& node, const std::string& path);
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& path,
                                 int64_t min = 0);
  std::optional<bool> boolean(const YAML::Node& node, const std::string& path);
  //! Calls item(node, "path[i]") for each element of a list; null counts as an empty list.
  void list(const YAML::Node& node, const std::string& path,
            const std::function<void(const YAML::Node&, const std::string&)>& item);
  std::vector<std::string> string_list(const YAML::Node& node, const std::string& path);
  //! A non-empty identifier: letters, digits, '-', '_', '.', ':'.
  std::optional<std::string> identifier(const YAML::Node& node, const std::string& path);
  //! 64 hex digits (lower-cased): a SHA-256 written as text.
  std::optional<std::string> sha256_hex(const YAML::Node& node, const std::string& path);

  //! The errors as one invalid_argument ("file: path: message (line N)", one per line); ok when
  //! there are none.
  Status status(std::string_view file) const;
};

}  // namespace keel
