#include "edge/text_features.h"

#include <fmt/format.h>

#include <cmath>

namespace keel::edge {

namespace {

constexpr int64_t kMaxSize = 1 << 20;

// A token byte: a-z, 0-9, any byte of a multi-byte UTF-8 sequence; A-Z after lower-casing.
bool token_byte(unsigned char& c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

Result<HashedBowSpec> parse_hashed_bow_spec(const Json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    return Status::invalid_argument("featurizer: expected {\"name\", \"dims\", \"max_tokens\"}");
  if (j["name"].get<std::string>() != kHashedBowName)
    return Status::unimplemented(fmt::format("featurizer '{}' is unknown (Keel implements {})",
                                             j["name"].get<std::string>(), kHashedBowName));
  HashedBowSpec spec;
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"dims", &spec.dims},
                            std::pair<const char*, int64_t*>{"max_tokens", &spec.max_tokens}}) {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() < 1 ||
        j[key].get<int64_t>() > kMaxSize)
      return Status::invalid_argument(
          fmt::format("featurizer: \"{}\" must be an integer in 1..{}", key, kMaxSize));
    *field = j[key].get<int64_t>();
  }
  return spec;
}

Json to_json(const HashedBowSpec& spec) {
  return Json{{"name", std::string(kHashedBowName)},
              {"dims", spec.dims},
              {"max_tokens", spec.max_tokens}};
}

uint32_t fnv1a32(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 16777619u;
  }
  return h;
}

std::vector<float> hashed_bow_features(std::string_view text, const HashedBowSpec& spec) {
  std::vector<uint32_t> counts(static_cast<size_t>(spec.dims), 0);
  const auto dims = static_cast<uint32_t>(spec.dims);
  std::string previous, current;
  int64_t tokens = 0;
  auto finish_token = [&] {
    if (current.empty()) return;
    ++counts[fnv1a32(current) % dims];
    if (tokens > 0) {
      std::string pair;
      pair.reserve(previous.size() + 1 + current.size());
      pair.append(previous).push_back(' ');
      pair.append(current);
      ++counts[fnv1a32(pair) % dims];
    }
    ++tokens;
    previous.swap(current);
    current.clear();
  };
  for (char ch : text) {
    if (tokens >= spec.max_tokens) break;
    auto c = static_cast<unsigned char>(ch);
    if (token_byte(c)) {
      current.push_back(static_cast<char>(c));
    } else {
      finish_token();
    }
  }
  if (tokens < spec.max_tokens) finish_token();

  std::vector<double> x(counts.size());
  double sum = 0;
  for (size_t j = 0; j < counts.size(); ++j) {
    x[j] = std::log1p(static_cast<double>(counts[j]));
    sum += x[j] * x[j];
  }
  const double norm = std::sqrt(sum);
  std::vector<float> out(counts.size());
  for (size_t j = 0; j < counts.size(); ++j)
    out[j] = static_cast<float>(norm > 0 ? x[j] / norm : 0.0);
  return out;
}

}  // namespace keel::edge
