// The browser app's static files, served under content-hashed URLs so that a browser may keep
// each one forever ("immutable") and a changed file is a new URL, never a stale hit.
//
// Every regular file of the given folders (not recursive; only web types: .html .js .mjs .css
// .wasm .svg .png .ico .txt) becomes an asset `/assets/<first 16 hex of its SHA-256>/<name>`.
// Pages are the .html files, rendered with `{{asset:NAME}}` replaced by NAME's hashed URL and
// `{{config}}` by a JSON value (with "<" written as \u003c so it cannot end a script element).
//
// Contract:
// - load() reads and hashes every file once; two files with one name, an unreadable file or a
//   `{{asset:NAME}}` naming no asset (checked when rendering) are errors.
// - find() takes a request path and returns the asset only when the hash in the path is the
//   file's current hash.
// - security_headers() are the headers every response of the app carries: cross-origin
//   isolation (COOP/COEP/CORP, which Wasm threads need), a strict CSP without inline scripts
//   or styles, nosniff, no referrer.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace keel::browser {

struct StaticAsset {
  std::string name;
  std::string url;
  std::string sha256;
  std::string content_type;
  std::string bytes;
};

class StaticSite {
 public:
  [[nodiscard]] static Result<StaticSite> load(const std::vector<std::string>& folders);

  const StaticAsset* find(std::string_view request_path) const;
  const StaticAsset* named(std::string_view name) const;
  //! name -> hashed URL, for the page config.
  Json urls() const;
  [[nodiscard]] Result<std::string> render(std::string_view page, const Json& config) const;

 private:
  std::map<std::string, StaticAsset, std::less<>> by_name_;
  std::map<std::string, std::string, std::less<>> name_by_url_;
};

std::vector<std::string> security_headers();
std::string_view content_type_for(std::string_view file_name);
//! Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

}  // namespace keel::browser
