#include "sync/mutation.h"

#include <fmt/format.h>

#include <cctype>
#include <set>

#include "core/utf8.h"

namespace keel::sync {
namespace {

constexpr size_t kMaxFields = 64;
constexpr size_t kMaxRecordBytes = 128;

Status bad(const std::string& field, const std::string& message) {
  return Status::invalid_argument(fmt::format("{}: {}", field, message));
}

bool is_scalar(const Json& v) { return v.is_string() || v.is_number() || v.is_boolean() || v.is_null(); }

Status check_fields(const Json& fields, const char* name, bool may_be_empty) {
  if (!fields.is_object()) return bad(name, "must be an object of field names to values");
  if (!may_be_empty && fields.empty()) return bad(name, "sets no field");
  if (fields.size() > kMaxFields) return bad(name, fmt::format("sets {} fields; at most {}", fields.size(), kMaxFields));
  for (const auto& [key, value] : fields.items()) {
    if (!is_plain_name(key)) return bad(fmt::format("{}.{}", name, key), "a field name is 1 to 64 of [A-Za-z0-9._-]");
    if (!is_scalar(value)) return bad(fmt::format("{}.{}", name, key), "must be a string, number, boolean or null");
    if (value.is_string() && value.get_ref<const std::string&>().find('\0') != std::string::npos)
      return bad(fmt::format("{}.{}", name, key), "a text may not hold a NUL character");
  }
  return Status();
}

}  // namespace

bool is_plain_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

Json Mutation::to_json() const {
  return {{"device", device}, {"seq", seq},           {"collection", collection}, {"record", record},
          {"base_version", base_version}, {"set", set}, {"base", base}};
}

Result<Mutation> parse_mutation(const Json& j) {
  if (!j.is_object()) return bad("mutation", "must be an object");
  static const std::set<std::string> known = {"device", "seq", "collection", "record", "base_version", "set", "base"};
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) return bad(key, "unknown field of a mutation");
  Mutation m;
  auto text = [&](const char* key, std::string* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return bad(key, "required, a string");
    *out = it->get<std::string>();
    return Status();
  };
  auto integer = [&](const char* key, int64_t min, int64_t* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return bad(key, "required, an integer");
    *out = it->get<int64_t>();
    if (*out < min) return bad(key, fmt::format("must be at least {}", min));
    return Status();
  };
  KEEL_RETURN_IF_ERROR(text("device", &m.device));
  if (!is_plain_name(m.device)) return bad("device", "a device id is 1 to 64 of [A-Za-z0-9._-]");
  KEEL_RETURN_IF_ERROR(integer("seq", 1, &m.seq));
  KEEL_RETURN_IF_ERROR(text("collection", &m.collection));
  if (!is_plain_name(m.collection)) return bad("collection", "a collection is 1 to 64 of [A-Za-z0-9._-]");
  KEEL_RETURN_IF_ERROR(text("record", &m.record));
  if (m.record.empty() || m.record.size() > kMaxRecordBytes || !is_valid_utf8(m.record) ||
      m.record.find('\0') != std::string::npos)
    return bad("record", fmt::format("a record id is 1 to {} bytes of UTF-8", kMaxRecordBytes));
  KEEL_RETURN_IF_ERROR(integer("base_version", 0, &m.base_version));
  auto set = j.find("set");
  if (set == j.end()) return bad("set", "required, the fields the mutation sets");
  KEEL_RETURN_IF_ERROR(check_fields(*set, "set", false));
  m.set = *set;
  if (auto base = j.find("base"); base != j.end()) {
    KEEL_RETURN_IF_ERROR(check_fields(*base, "base", true));
    m.base = *base;
  }
  return m;
}

Json MutationOutcome::to_json() const {
  return {{"mutation_id", mutation_id}, {"outcome", outcome}, {"version", version}, {"fields", fields}};
}

Result<MutationOutcome> parse_outcome(const Json& j) {
  if (!j.is_object()) return bad("result", "must be an object");
  MutationOutcome o;
  try {
    o.mutation_id = j.at("mutation_id").get<std::string>();
    o.outcome = j.at("outcome").get<std::string>();
    o.version = j.at("version").get<int64_t>();
    o.fields = j.at("fields");
  } catch (const std::exception& e) {
    return bad("result", std::string("malformed: ") + e.what());
  }
  if (o.outcome != "applied" && o.outcome != "duplicate" && o.outcome != "conflict")
    return bad("result.outcome", "must be applied, duplicate or conflict");
  if (!o.fields.is_object()) return bad("result.fields", "must be an object");
  return o;
}

}  // namespace keel::sync
