#include "context/access_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace keel::context {
namespace {

bool same_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The field a line names ("salary: 61500 EUR" -> "salary" and the value's offset), if any.
bool field_line(std::string_view line, std::string_view* field, size_t* value_at) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos) return false;
  if (line.compare(i, 2, "- ") == 0) i += 2;
  const size_t colon = line.find(':', i);
  if (colon == std::string_view::npos || colon == i) return false;
  *field = line.substr(i, colon - i);
  while (!field->empty() && field->back() == ' ') field->remove_suffix(1);
  if (field->find(' ') != std::string_view::npos) return false;  // a sentence, not a field
  *value_at = line.find_first_not_of(" \t", colon + 1);
  return *value_at != std::string_view::npos;
}

}  // namespace

AccessDecision check_access(const AccessControl& acl, const Reader& reader) {
  if (acl.tenant != reader.tenant)
    return {false, "tenant.row_filter", fmt::format("the document belongs to another tenant")};
  for (const auto& role : acl.roles) {
    if (std::find(reader.roles.begin(), reader.roles.end(), role) != reader.roles.end())
      return {true, "document.acl", fmt::format("role {} may read it", role)};
  }
  return {false, "document.acl",
          acl.roles.empty() ? "the document names no role that may read it"
                            : fmt::format("readable by {} only", fmt::join(acl.roles, ", "))};
}

MaskedText mask_fields(std::string_view text, const std::vector<std::string>& fields) {
  MaskedText out;
  out.text.reserve(text.size());
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    std::string_view field;
    size_t value_at = 0;
    auto restricted = fields.end();
    if (field_line(line, &field, &value_at))
      restricted = std::find_if(fields.begin(), fields.end(), [&](const std::string& f) { return same_ignoring_case(f, field); });
    if (restricted != fields.end()) {
      out.text.append(line.substr(0, value_at));
      out.text.append("[masked]");
      if (std::find(out.masked.begin(), out.masked.end(), *restricted) == out.masked.end())
        out.masked.push_back(*restricted);
    } else {
      out.text.append(line);
    }
    if (end < text.size()) out.text.push_back('\n');
    at = end + 1;
  }
  return out;
}

}  // namespace keel::context
