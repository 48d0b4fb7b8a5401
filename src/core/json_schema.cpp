#include "core/json_schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <re2/re2.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/result.h"
#include "core/utf8.h"

namespace keel {
namespace {

// Patterns come from schemas that may come from outside (MCP servers) and are matched against
// untrusted strings of megabytes: RE2 runs in time linear in the input, with bounded memory,
// and the compiled patterns are kept (a schema's pattern is compiled once, not per value).
constexpr size_t kMaxPatternBytes = 4096;
constexpr int64_t kPatternMemoryBytes = 1 << 20;
constexpr size_t kPatternsKept = 256;

Result<std::shared_ptr<const RE2>> compiled_pattern(const std::string& pattern) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const RE2>> kept;
  if (pattern.size() > kMaxPatternBytes) {
    return Status::invalid_argument(
        fmt::format("the pattern is {} bytes, more than the {} allowed", pattern.size(), kMaxPatternBytes));
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = kept.find(pattern); it != kept.end()) return it->second;
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kPatternMemoryBytes);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (!re->ok()) {
    return Status::invalid_argument(fmt::format(
        "the pattern is not a regular expression this validator runs (RE2 syntax: no backreferences or "
        "lookaround): {}",
        re->error()));
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (kept.size() >= kPatternsKept) kept.clear();
  kept.emplace(pattern, re);
  return std::shared_ptr<const RE2>(re);
}

std::string type_of(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    default: return "object";
  }
}

bool has_type(const Json& v, const std::string& t) {
  if (t == "number") return v.is_number();
  if (t == "integer") {
    if (v.is_number_integer()) return true;
    if (v.is_number_float()) {
      double d = v.get<double>();
      return std::isfinite(d) && std::floor(d) == d;
    }
    return false;
  }
  return type_of(v) == t || (t == "object" && v.is_object());
}

std::string child_path(const std::string& path, const std::string& key) {
  bool plain = !key.empty() && key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
  return plain ? path + "." + key : path + "[" + dump_json(key) + "]";
}

struct Validator {
  size_t max_errors;
  std::vector<SchemaViolation> errors;

  bool full() const { return errors.size() >= max_errors; }
  void fail(const std::string& path, std::string message) {
    if (!full()) errors.push_back({path, std::move(message)});
  }

  // Validates without recording: for anyOf/oneOf/not branches.
  bool passes(const Json& schema, const Json& value) const {
    Validator v{1, {}};
    v.run(schema, value, "$");
    return v.errors.empty();
  }

  void run(const Json& schema, const Json& value, const std::string& path) {
    if (full()) return;
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(path, "no value is allowed here");
      return;
    }
    if (!schema.is_object()) return;
    if (!has_allowed_type(schema, value, path)) return;  // the other keywords assume the type
    check_enum_and_const(schema, value, path);
    if (value.is_number()) check_number(schema, value.get<double>(), path);
    if (value.is_string()) check_string(schema, value.get_ref<const std::string&>(), path);
    if (value.is_array()) check_array(schema, value, path);
    if (value.is_object()) check_object(schema, value, path);
    check_combinators(schema, value, path);
  }

  // type: false (and recorded) when the value has none of the types listed.
  bool has_allowed_type(const Json& schema, const Json& value, const std::string& path) {
    auto t = schema.find("type");
    if (t == schema.end()) return true;
    std::vector<std::string> types;
    if (t->is_string()) types.push_back(t->get<std::string>());
    if (t->is_array()) {
      for (const auto& x : *t) {
        if (x.is_string()) types.push_back(x.get<std::string>());
      }
    }
    bool ok = false;
    for (const auto& ty : types) ok = ok || has_type(value, ty);
    if (!ok) {
      std::string expected = types.size() == 1 ? types[0] : fmt::format("{}", fmt::join(types, " or "));
      std::string actual = type_of(value) == "integer" ? "number" : type_of(value);
      fail(path, fmt::format("must be of type {}, not {}", expected, actual));
    }
    return ok;
  }

  // enum, const.
  void check_enum_and_const(const Json& schema, const Json& value, const std::string& path) {
    if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
      bool found = false;
      for (const auto& x : *e) found = found || x == value;
      if (!found) fail(path, fmt::format("must be one of {}", dump_json(*e)));
    }
    if (auto c = schema.find("const"); c != schema.end() && *c != value) {
      fail(path, fmt::format("must be {}", dump_json(*c)));
    }
  }

  // minimum, maximum, exclusiveMinimum, exclusiveMaximum.
  void check_number(const Json& schema, double v, const std::string& path) {
    auto num = [&](const char* key) -> std::optional<double> {
      auto it = schema.find(key);
      if (it == schema.end() || !it->is_number()) return std::nullopt;
      return it->get<double>();
    };
    if (auto m = num("minimum"); m && v < *m) fail(path, fmt::format("must be at least {}", *m));
    if (auto m = num("maximum"); m && v > *m) fail(path, fmt::format("must be at most {}", *m));
    if (auto m = num("exclusiveMinimum"); m && v <= *m) fail(path, fmt::format("must be more than {}", *m));
    if (auto m = num("exclusiveMaximum"); m && v >= *m) fail(path, fmt::format("must be less than {}", *m));
  }

  // minLength, maxLength (in characters), pattern.
  void check_string(const Json& schema, const std::string& s, const std::string& path) {
    size_t length = utf8_length(s);
    if (auto m = schema.find("minLength"); m != schema.end() && m->is_number() && length < m->get<size_t>()) {
      fail(path, fmt::format("must have at least {} characters", m->get<size_t>()));
    }
    if (auto m = schema.find("maxLength"); m != schema.end() && m->is_number() && length > m->get<size_t>()) {
      fail(path, fmt::format("must have at most {} characters", m->get<size_t>()));
    }
    if (auto p = schema.find("pattern"); p != schema.end() && p->is_string()) {
      auto re = compiled_pattern(p->get<std::string>());
      if (!re.ok()) {
        fail(path, re.status().message());
      } else if (!RE2::PartialMatch(s, **re)) {
        fail(path, fmt::format("must match the pattern {}", p->get<std::string>()));
      }
    }
  }

  // minItems, maxItems, uniqueItems, items.
  void check_array(const Json& schema, const Json& value, const std::string& path) {
    if (auto m = schema.find("minItems"); m != schema.end() && m->is_number() && value.size() < m->get<size_t>()) {
      fail(path, fmt::format("must have at least {} items", m->get<size_t>()));
    }
    if (auto m = schema.find("maxItems"); m != schema.end() && m->is_number() && value.size() > m->get<size_t>()) {
      fail(path, fmt::format("must have at most {} items", m->get<size_t>()));
    }
    if (auto u = schema.find("uniqueItems"); u != schema.end() && u->is_boolean() && u->get<bool>()) {
      std::set<std::string> seen;
      for (const auto& x : value) {
        if (!seen.insert(canonical_json(x)).second) {
          fail(path, "must not repeat items");
          break;
        }
      }
    }
    if (auto items = schema.find("items"); items != schema.end()) {
      for (size_t i = 0; i < value.size() && !full(); ++i) run(*items, value[i], fmt::format("{}[{}]", path, i));
    }
  }

  // required, properties, additionalProperties.
  void check_object(const Json& schema, const Json& value, const std::string& path) {
    const Json* props = nullptr;
    if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) props = &*p;
    if (auto r = schema.find("required"); r != schema.end() && r->is_array()) {
      for (const auto& key : *r) {
        if (key.is_string() && !value.contains(key.get<std::string>())) {
          fail(child_path(path, key.get<std::string>()), "is required");
        }
      }
    }
    for (auto it = value.begin(); it != value.end() && !full(); ++it) {
      if (props && props->contains(it.key())) {
        run((*props)[it.key()], it.value(), child_path(path, it.key()));
        continue;
      }
      if (auto ap = schema.find("additionalProperties"); ap != schema.end()) {
        if (ap->is_boolean() && !ap->get<bool>()) {
          fail(child_path(path, it.key()), "is not an allowed property");
        } else if (ap->is_object()) {
          run(*ap, it.value(), child_path(path, it.key()));
        }
      }
    }
  }

  // allOf, anyOf, oneOf, not.
  void check_combinators(const Json& schema, const Json& value, const std::string& path) {
    if (auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
      for (const auto& s : *all) run(s, value, path);
    }
    if (auto any = schema.find("anyOf"); any != schema.end() && any->is_array()) {
      bool ok = false;
      for (const auto& s : *any) ok = ok || passes(s, value);
      if (!ok) fail(path, "must match at least one of the anyOf schemas");
    }
    if (auto one = schema.find("oneOf"); one != schema.end() && one->is_array()) {
      int matches = 0;
      for (const auto& s : *one) matches += passes(s, value);
      if (matches != 1) fail(path, fmt::format("must match exactly one of the oneOf schemas (matches {})", matches));
    }
    if (auto n = schema.find("not"); n != schema.end() && passes(*n, value)) {
      fail(path, "must not match the 'not' schema");
    }
  }
};

const std::set<std::string>& known_keywords() {
  static const std::set<std::string> k = {
      "type", "properties", "required", "additionalProperties", "enum", "const", "minimum", "maximum",
      "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "items", "minItems",
      "maxItems", "uniqueItems", "allOf", "anyOf", "oneOf", "not", "title", "description", "default",
      "examples", "format", "$schema", "$id", "$comment"};
  return k;
}

Status check(const Json& schema, const std::string& path, int depth) {
  if (depth > 32) return Status::invalid_argument(fmt::format("{}: the schema is nested too deeply", path));
  if (schema.is_boolean()) return Status();
  if (!schema.is_object()) return Status::invalid_argument(fmt::format("{}: a schema is an object or a boolean", path));
  static const std::set<std::string> types = {"null", "boolean", "integer", "number", "string", "array", "object"};
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (!known_keywords().count(k)) {
      return Status::invalid_argument(fmt::format("{}: unsupported schema keyword '{}'", path, k));
    }
    if (k == "type") {
      std::vector<Json> list = v.is_array() ? std::vector<Json>(v.begin(), v.end()) : std::vector<Json>{v};
      for (const auto& t : list) {
        if (!t.is_string() || !types.count(t.get<std::string>())) {
          return Status::invalid_argument(fmt::format("{}.type: unknown type {}", path, dump_json(t)));
        }
      }
    } else if (k == "properties") {
      if (!v.is_object()) return Status::invalid_argument(fmt::format("{}.properties must be an object", path));
      for (auto p = v.begin(); p != v.end(); ++p) KEEL_RETURN_IF_ERROR(check(p.value(), path + ".properties." + p.key(), depth + 1));
    } else if (k == "required") {
      if (!v.is_array()) return Status::invalid_argument(fmt::format("{}.required must be a list of names", path));
      for (const auto& r : v) {
        if (!r.is_string()) return Status::invalid_argument(fmt::format("{}.required must be a list of names", path));
      }
    } else if (k == "additionalProperties" || k == "items" || k == "not") {
      KEEL_RETURN_IF_ERROR(check(v, path + "." + k, depth + 1));
    } else if (k == "allOf" || k == "anyOf" || k == "oneOf") {
      if (!v.is_array() || v.empty()) return Status::invalid_argument(fmt::format("{}.{} must be a non-empty list", path, k));
      for (size_t i = 0; i < v.size(); ++i) KEEL_RETURN_IF_ERROR(check(v[i], fmt::format("{}.{}[{}]", path, k, i), depth + 1));
    } else if (k == "enum") {
      if (!v.is_array()) return Status::invalid_argument(fmt::format("{}.enum must be a list", path));
    } else if (k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum") {
      if (!v.is_number()) return Status::invalid_argument(fmt::format("{}.{} must be a number", path, k));
    } else if (k == "minLength" || k == "maxLength" || k == "minItems" || k == "maxItems") {
      if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
        return Status::invalid_argument(fmt::format("{}.{} must be a non-negative integer", path, k));
      }
    } else if (k == "pattern") {
      if (!v.is_string()) return Status::invalid_argument(fmt::format("{}.pattern must be a string", path));
      auto re = compiled_pattern(v.get<std::string>());
      if (!re.ok()) return Status::invalid_argument(fmt::format("{}.pattern: {}", path, re.status().message()));
    } else if (k == "uniqueItems" && !v.is_boolean()) {
      return Status::invalid_argument(fmt::format("{}.uniqueItems must be true or false", path));
    }
  }
  return Status();
}

}  // namespace

std::vector<SchemaViolation> validate_json(const Json& schema, const Json& value, size_t max_errors) {
  Validator v{std::max<size_t>(max_errors, 1), {}};
  v.run(schema, value, "$");
  return std::move(v.errors);
}

std::string describe_violations(const std::vector<SchemaViolation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    if (!out.empty()) out += "; ";
    out += v.path + " " + v.message;
  }
  return out;
}

Status check_schema(const Json& schema) { return check(schema, "$", 0); }

}  // namespace keel
