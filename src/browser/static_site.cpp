#include "browser/static_site.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/file_io.h"
#include "core/hash.h"

namespace keel::browser {

namespace {

constexpr uint64_t kMaxAssetBytes = 64ull << 20;

struct WebType {
  std::string_view extension;
  std::string_view content_type;
};

constexpr WebType kWebTypes[] = {
    {".html", "text/html; charset=utf-8"},      {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".wasm", "application/wasm"},              {".svg", "image/svg+xml"},
    {".png", "image/png"},                      {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

}  // namespace

std::string_view content_type_for(std::string_view file_name) {
  for (const auto& t : kWebTypes) {
    if (file_name.ends_with(t.extension)) return t.content_type;
  }
  return "";
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> security_headers() {
  return {
      "Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
      "worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
      "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      "Cross-Origin-Opener-Policy: same-origin",
      "Cross-Origin-Embedder-Policy: require-corp",
      "Cross-Origin-Resource-Policy: same-origin",
      "X-Content-Type-Options: nosniff",
      "Referrer-Policy: no-referrer",
  };
}

Result<StaticSite> StaticSite::load(const std::vector<std::string>& folders) {
  StaticSite site;
  for (const auto& folder : folders) {
    std::error_code ec;
    std::filesystem::directory_iterator it(folder, ec), end;
    if (ec) return Status::not_found(fmt::format("cannot list {}: {}", folder, ec.message()));
    std::vector<std::filesystem::path> files;
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file() && !content_type_for(it->path().filename().string()).empty())
        files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      StaticAsset a;
      a.name = path.filename().string();
      if (site.by_name_.count(a.name))
        return Status::invalid_argument(
            fmt::format("two app files are named {} (the second in {})", a.name, folder));
      KEEL_ASSIGN_OR_RETURN(a.bytes, read_file(path.string(), kMaxAssetBytes));
      a.sha256 = sha256_hex(a.bytes);
      a.url = fmt::format("/assets/{}/{}", a.sha256.substr(0, 16), a.name);
      a.content_type = std::string(content_type_for(a.name));
      site.name_by_url_[a.url] = a.name;
      site.by_name_[a.name] = std::move(a);
    }
  }
  return site;
}

const StaticAsset* StaticSite::find(std::string_view request_path) const {
  auto it = name_by_url_.find(request_path);
  return it == name_by_url_.end() ? nullptr : named(it->second);
}

const StaticAsset* StaticSite::named(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

Json StaticSite::urls() const {
  Json out = Json::object();
  for (const auto& [name, a] : by_name_) {
    if (!name.ends_with(".html")) out[name] = a.url;
  }
  return out;
}

Result<std::string> StaticSite::render(std::string_view page, const Json& config) const {
  const StaticAsset* a = named(page);
  if (!a) return Status::not_found(fmt::format("the app has no page {}", page));
  std::string config_text = dump_json(config);
  std::string safe_config;
  for (char c : config_text) {
    if (c == '<') {
      safe_config += "\\u003c";
    } else {
      safe_config.push_back(c);
    }
  }
  const std::string& in = a->bytes;
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = in.find("{{", pos);
    if (open == std::string::npos) break;
    size_t close = in.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(in, pos, open - pos);
    std::string_view key(in.data() + open + 2, close - open - 2);
    if (key == "config") {
      out += safe_config;
    } else if (key.starts_with("asset:")) {
      const StaticAsset* ref = named(key.substr(6));
      if (!ref)
        return Status::not_found(fmt::format("{} refers to {}, which the app does not have", page,
                                             key.substr(6)));
      out += ref->url;
    } else {
      out.append(in, open, close + 2 - open);
    }
    pos = close + 2;
  }
  out.append(in, pos, std::string::npos);
  return out;
}

}  // namespace keel::browser
