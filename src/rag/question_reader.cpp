#include "rag/question_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace keel::rag {
namespace {

struct Word {
  std::string lower;     //!< lower case
  std::string original;  //!< as written
};

std::vector<Word> words_of(std::string_view text) {
  std::vector<Word> out;
  std::string w;
  auto flush = [&] {
    while (!w.empty() && w.back() == '-') w.pop_back();
    if (!w.empty()) {
      std::string lower = w;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.push_back({lower, w});
    }
    w.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || (c == '-' && !w.empty())) w += c;
    else flush();
  }
  flush();
  return out;
}

// Plural and case differences do not matter: "orders" is "order".
std::string stem(std::string_view w) {
  std::string s(w);
  if (s.size() > 3 && s.back() == 's' && s[s.size() - 2] != 's') s.pop_back();
  return s;
}

bool has_stem(const std::vector<Word>& words, std::string_view target) {
  const std::string t = stem(target);
  return std::any_of(words.begin(), words.end(), [&](const Word& w) { return stem(w.lower) == t; });
}

// Name words that say how, not what: a metric is not chosen by these alone.
const std::set<std::string> kGenericWords = {"count", "average", "avg", "total", "sum", "open", "number", "mean"};
const std::set<std::string> kNotAValue = {
    "the", "a", "an", "by", "per", "each", "every", "which", "what", "all", "any", "for", "in", "of", "across",
    "our", "my", "their", "its", "and", "or", "to", "from", "with", "is", "was", "were", "how", "many", "much"};

bool asks_for_aggregate(const std::vector<Word>& words) {
  for (const char* w : {"average", "avg", "mean", "typical", "minimum", "min", "maximum", "max", "lowest", "highest"})
    if (has_stem(words, w)) return true;
  return false;
}

// A metric is named when the question holds every word of its name that says what is measured
// (or its unit, when no other metric has it: "orders", "tickets"), and, for an average, minimum
// or maximum, asks for one ("the salary of the lead" is a person's, not an average).
const semantic::Metric* pick_metric(const semantic::MetricCatalog& catalog, const std::vector<Word>& words) {
  const semantic::Metric* best = nullptr;
  int best_score = 0;
  for (const auto& m : catalog.metrics) {
    std::string name = m.name;
    std::replace(name.begin(), name.end(), '_', ' ');
    int score = 0, specific = 0, specific_present = 0;
    for (const auto& part : words_of(name)) {
      const bool present = has_stem(words, part.lower);
      score += present;
      if (!kGenericWords.count(part.lower)) {
        ++specific;
        specific_present += present;
      }
    }
    const std::string unit = stem(m.unit);
    const bool unit_is_its_own = std::count_if(catalog.metrics.begin(), catalog.metrics.end(),
                                               [&](const semantic::Metric& o) { return stem(o.unit) == unit; }) == 1;
    const bool unit_named = unit.size() >= 4 && unit_is_its_own && has_stem(words, unit);
    score += unit_named;
    const bool named = specific > 0 && (specific_present == specific || unit_named);
    const bool aggregate_ok = (m.aggregate != semantic::Aggregate::average && m.aggregate != semantic::Aggregate::min &&
                               m.aggregate != semantic::Aggregate::max) ||
                              asks_for_aggregate(words);
    if (named && aggregate_ok && score > best_score) {
      best = &m;
      best_score = score;
    }
  }
  return best;
}

// "monthly" -> month.
std::optional<std::string> grain_adjective(std::string_view w) {
  static const std::array<std::pair<const char*, const char*>, 7> kWords = {{
      {"daily", "day"}, {"weekly", "week"}, {"monthly", "month"}, {"quarterly", "quarter"},
      {"yearly", "year"}, {"annually", "year"}, {"annual", "year"}}};
  for (const auto& [word, grain] : kWords)
    if (w == word) return std::string(grain);
  return std::nullopt;
}

// "month" (after "by" or "per") -> month.
std::optional<std::string> grain_word(std::string_view w) {
  for (const char* g : {"day", "week", "month", "quarter", "year"})
    if (w == g) return std::string(g);
  return std::nullopt;
}

bool is_year(std::string_view w) {
  return w.size() == 4 && std::all_of(w.begin(), w.end(), ::isdigit) && w[0] == '2';
}
bool is_date(std::string_view w) {
  return w.size() == 10 && w[4] == '-' && w[7] == '-' && is_year(w.substr(0, 4));
}

int month_number(std::string_view w) {
  static const char* kMonths[] = {"january", "february", "march",     "april",   "may",      "june",
                                  "july",    "august",   "september", "october", "november", "december"};
  for (int i = 0; i < 12; ++i)
    if (w == kMonths[i] || (w.size() == 3 && std::string_view(kMonths[i]).substr(0, 3) == w)) return i + 1;
  return 0;
}

std::optional<Json> read_range(const std::vector<Word>& words) {
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const auto& a = words[i].lower;
    if ((a == "from" || a == "between") && is_date(words[i + 1].lower)) {
      for (size_t j = i + 2; j + 1 < words.size(); ++j)
        if ((words[j].lower == "to" || words[j].lower == "and" || words[j].lower == "until") && is_date(words[j + 1].lower))
          return Json{{"from", words[i + 1].lower}, {"to", words[j + 1].lower}};
    }
  }
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const auto& a = words[i].lower;
    const auto& year = words[i + 1].lower;
    if (!is_year(year)) continue;
    const int y = std::stoi(year);
    if (a.size() == 2 && a[0] == 'q' && a[1] >= '1' && a[1] <= '4') {
      const int q = a[1] - '0';
      const int next_month = 3 * q + 1;
      return Json{{"from", fmt::format("{}-{:02d}-01", y, 3 * q - 2)},
                  {"to", next_month > 12 ? fmt::format("{}-01-01", y + 1) : fmt::format("{}-{:02d}-01", y, next_month)}};
    }
    if (int m = month_number(a)) {
      return Json{{"from", fmt::format("{}-{:02d}-01", y, m)},
                  {"to", m == 12 ? fmt::format("{}-01-01", y + 1) : fmt::format("{}-{:02d}-01", y, m + 1)}};
    }
  }
  for (const auto& w : words)
    if (is_year(w.lower)) {
      const int y = std::stoi(w.lower);
      return Json{{"from", fmt::format("{}-01-01", y)}, {"to", fmt::format("{}-01-01", y + 1)}};
    }
  return std::nullopt;
}

// Consecutive capitalised words from `at` ("Fjord Shipping"), as written.
std::string name_at(const std::vector<Word>& words, size_t at) {
  std::string name;
  for (size_t i = at; i < words.size(); ++i) {
    if (!std::isupper(static_cast<unsigned char>(words[i].original[0]))) break;
    if (is_year(words[i].lower)) break;
    name += (name.empty() ? "" : " ") + words[i].original;
  }
  return name;
}

void read_dimensions_and_grain(const semantic::Metric& m, const std::vector<Word>& words, Json* request) {
  Json dimensions = Json::array();
  for (size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i].lower;
    if (auto g = grain_adjective(w)) (*request)["grain"] = *g;
    const bool grouping = w == "by" || w == "per" || w == "across" ||
                          (w == "each" && i > 0 && words[i - 1].lower == "for");
    if (!grouping || i + 1 >= words.size()) continue;
    const std::string next = stem(words[i + 1].lower);
    if (auto g = grain_word(next)) {
      (*request)["grain"] = *g;
      continue;
    }
    for (const auto& d : m.dimensions)
      if (stem(d.name) == next && std::find(dimensions.begin(), dimensions.end(), d.name) == dimensions.end())
        dimensions.push_back(d.name);
  }
  if (!dimensions.empty()) (*request)["dimensions"] = dimensions;
}

void read_filters(const semantic::Metric& m, const std::vector<Word>& words, Json* request) {
  Json filters = Json::array();
  for (const auto& name : m.filters) {
    for (size_t i = 0; i < words.size(); ++i) {
      if (stem(words[i].lower) != stem(name)) continue;
      std::string value;
      if (name == "customer") {
        value = i + 1 < words.size() ? name_at(words, i + 1) : "";
      } else if (i + 1 < words.size() && !kNotAValue.count(words[i + 1].lower) && !is_year(words[i + 1].lower)) {
        value = words[i + 1].lower;
      } else if (i > 0 && !kNotAValue.count(words[i - 1].lower) && !is_year(words[i - 1].lower) &&
                 !(i > 1 && (words[i - 2].lower == "by" || words[i - 2].lower == "per"))) {
        value = words[i - 1].lower;
      }
      if (!value.empty()) {
        filters.push_back({{"dimension", name}, {"op", "eq"}, {"value", value}});
        break;
      }
    }
    if (name == "customer") {
      for (size_t i = 0; i + 1 < words.size(); ++i) {
        if (words[i].lower != "from" && words[i].lower != "to") continue;
        std::string who = name_at(words, i + 1);
        if (!who.empty() && filters.empty()) filters.push_back({{"dimension", name}, {"op", "eq"}, {"value", who}});
      }
    }
  }
  if (!filters.empty()) (*request)["filters"] = filters;
}

}  // namespace

std::optional<Json> read_metric_request(const semantic::MetricCatalog& catalog, std::string_view question) {
  const std::vector<Word> words = words_of(question);
  const semantic::Metric* m = pick_metric(catalog, words);
  if (!m) return std::nullopt;
  Json request = {{"metric", m->name}};
  read_dimensions_and_grain(*m, words, &request);
  read_filters(*m, words, &request);
  if (auto range = read_range(words)) request["range"] = *range;
  return request;
}

bool asks_for_a_number(std::string_view question) {
  const std::vector<Word> w = words_of(question);
  for (size_t i = 0; i < w.size(); ++i) {
    const std::string& a = w[i].lower;
    const std::string b = i + 1 < w.size() ? w[i + 1].lower : "";
    if ((a == "how" && (b == "many" || b == "much")) || a == "total" || a == "average" ||
        ((a == "number" || a == "sum") && b == "of"))
      return true;
  }
  return false;
}

}  // namespace keel::rag
