#include "edge/device_profile.h"

#include <fmt/format.h>

#include "core/file_io.h"
#include "core/yaml_reader.h"

namespace keel::edge {

namespace {

constexpr uint64_t kMaxProfileBytes = 256 * 1024;

}  // namespace

DeviceProfile portable_only_profile() {
  DeviceProfile p;
  p.name = "portable";
  p.device_class = "any";
  p.delegates.push_back(DelegateProfile{std::string(kPortableDelegate), {}, {}});
  return p;
}

Result<DeviceProfile> parse_device_profile(std::string_view yaml, std::string_view file) {
  KEEL_ASSIGN_OR_RETURN(YAML::Node root, parse_yaml(yaml, file));
  YamlReader r;
  YamlReader::Map top(&r, root, "", 1);
  DeviceProfile p;
  if (auto v = r.integer(top.require("keel_device"), "keel_device", 1)) {
    if (*v != 1) r.error("keel_device", top.get("keel_device"), "this keel reads version 1");
  }
  if (auto v = r.identifier(top.require("name"), "name")) p.name = *v;
  p.device_class = r.identifier(top.get("class"), "class").value_or("any");
  r.list(top.get("delegates"), "delegates", [&](const YAML::Node& node, const std::string& path) {
    auto m = r.item(node, path);
    if (!m.valid()) return;
    DelegateProfile d;
    if (auto v = r.identifier(m.require("id"), path + ".id")) d.id = *v;
    for (const auto& op : r.string_list(m.get("ops"), path + ".ops")) d.ops.insert(op);
    if (auto lm = r.map(m.get("limits"), path + ".limits", m.line()); lm.valid()) {
      const std::string lp = path + ".limits";
      d.limits.max_channels = r.integer(lm.get("max_channels"), lp + ".max_channels", 0).value_or(0);
      d.limits.max_kernel = r.integer(lm.get("max_kernel"), lp + ".max_kernel", 0).value_or(0);
      d.limits.dilation = r.boolean(lm.get("dilation"), lp + ".dilation").value_or(true);
      d.limits.grouped = r.boolean(lm.get("grouped"), lp + ".grouped").value_or(true);
      d.limits.depthwise = r.boolean(lm.get("depthwise"), lp + ".depthwise").value_or(true);
      lm.finish();
    }
    if (!d.portable() && d.ops.empty()) r.error(path + ".ops", node, "name the operators it runs");
    for (const auto& other : p.delegates) {
      if (other.id == d.id) r.error(path + ".id", node, fmt::format("delegate '{}' twice", d.id));
    }
    m.finish();
    p.delegates.push_back(std::move(d));
  });
  top.finish();
  KEEL_RETURN_IF_ERROR(r.status(file));
  // The portable delegate runs whatever is left, last.
  std::erase_if(p.delegates, [](const DelegateProfile& d) { return d.portable(); });
  p.delegates.push_back(DelegateProfile{std::string(kPortableDelegate), {}, {}});
  return p;
}

Result<DeviceProfile> load_device_profile(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxProfileBytes));
  return parse_device_profile(text, path);
}

}  // namespace keel::edge
