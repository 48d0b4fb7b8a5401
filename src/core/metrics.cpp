#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace keel {

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "keel metrics: %s\n", message.c_str());
  std::abort();
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="1",b="2"} with an optional extra label (the histogram's le) appended.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);  // shortest representation that round-trips
}

void Counter::inc(double amount) {
  if (amount < 0) die("counter decremented");
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      die("histogram bounds must be finite and strictly increasing");
    }
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double value) {
  size_t bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
                  upper_bounds_.begin();  // first bound >= value: Prometheus buckets are le
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative_counts.push_back(running);
  }
  // The +Inf bucket must equal _count; read count from the buckets so the two agree even
  // while other threads observe.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

double Histogram::quantile(double q) const {
  Snapshot s = snapshot();
  if (s.count == 0) return NAN;
  double rank = q * static_cast<double>(s.count);
  for (size_t i = 0; i < s.cumulative_counts.size(); ++i) {
    if (static_cast<double>(s.cumulative_counts[i]) >= rank) {
      if (i == s.upper_bounds.size()) return s.upper_bounds.empty() ? NAN : s.upper_bounds.back();
      double lower = i == 0 ? 0.0 : s.upper_bounds[i - 1];
      double below = i == 0 ? 0.0 : static_cast<double>(s.cumulative_counts[i - 1]);
      double in_bucket = static_cast<double>(s.cumulative_counts[i]) - below;
      if (in_bucket <= 0) return s.upper_bounds[i];
      return lower + (s.upper_bounds[i] - lower) * (rank - below) / in_bucket;
    }
  }
  return NAN;
}

std::vector<double> latency_seconds_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

template <typename M>
M& MetricFamily<M>::labels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    die(fmt::format("metric {} takes {} label values, got {}", name_, label_names_.size(),
                    values.size()));
  }
  std::lock_guard lock(mutex_);
  auto& slot = children_[values];
  if (!slot) slot = make_();
  return *slot;
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

MetricsRegistry::Entry* MetricsRegistry::find_or_check(std::string_view name, MetricType type,
                                                       std::string_view help,
                                                       const std::vector<std::string>& label_names,
                                                       const std::vector<double>& buckets) {
  if (!is_valid_metric_name(name)) die(fmt::format("invalid metric name '{}'", name));
  for (const auto& l : label_names) {
    if (!is_valid_label_name(l) || (type == MetricType::histogram && l == "le")) {
      die(fmt::format("invalid label name '{}' on metric {}", l, name));
    }
  }
  if (type == MetricType::counter &&
      (name.size() < 6 || name.substr(name.size() - 6) != "_total")) {
    die(fmt::format("counter '{}' must end in _total", name));
  }
  for (auto& e : entries_) {
    if (e->name != name) continue;
    if (e->type != type || e->help != help || e->label_names != label_names ||
        e->buckets != buckets || e->callback) {
      die(fmt::format("metric '{}' registered twice with different definitions", name));
    }
    return e.get();
  }
  return nullptr;
}

MetricFamily<Counter>& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                                std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  if (Entry* e = find_or_check(name, MetricType::counter, help, label_names, {})) {
    return *static_cast<MetricFamily<Counter>*>(e->family);
  }
  counters_.emplace_back(new MetricFamily<Counter>(std::string(name), std::string(help),
                                                    label_names,
                                                    [] { return std::make_unique<Counter>(); }));
  entries_.push_back(std::make_unique<Entry>(Entry{MetricType::counter, std::string(name),
                                                   std::string(help), std::move(label_names),
                                                   {}, counters_.back().get(), {}}));
  return *counters_.back();
}

MetricFamily<Gauge>& MetricsRegistry::gauge(std::string_view name, std::string_view help,
                                            std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  if (Entry* e = find_or_check(name, MetricType::gauge, help, label_names, {})) {
    return *static_cast<MetricFamily<Gauge>*>(e->family);
  }
  gauges_.emplace_back(new MetricFamily<Gauge>(std::string(name), std::string(help), label_names,
                                                [] { return std::make_unique<Gauge>(); }));
  entries_.push_back(std::make_unique<Entry>(Entry{MetricType::gauge, std::string(name),
                                                   std::string(help), std::move(label_names),
                                                   {}, gauges_.back().get(), {}}));
  return *gauges_.back();
}

MetricFamily<Histogram>& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                                    std::vector<double> upper_bounds,
                                                    std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  if (Entry* e = find_or_check(name, MetricType::histogram, help, label_names, upper_bounds)) {
    return *static_cast<MetricFamily<Histogram>*>(e->family);
  }
  histograms_.emplace_back(new MetricFamily<Histogram>(
      std::string(name), std::string(help), label_names,
      [upper_bounds] { return std::make_unique<Histogram>(upper_bounds); }));
  entries_.push_back(std::make_unique<Entry>(
      Entry{MetricType::histogram, std::string(name), std::string(help), std::move(label_names),
            std::move(upper_bounds), histograms_.back().get(), {}}));
  return *histograms_.back();
}

void MetricsRegistry::gauge_callback(std::string_view name, std::string_view help,
                                     std::function<double()> read) {
  std::lock_guard lock(mutex_);
  if (!is_valid_metric_name(name)) die(fmt::format("invalid metric name '{}'", name));
  for (auto& e : entries_) {
    if (e->name == name) die(fmt::format("metric '{}' registered twice", name));
  }
  entries_.push_back(std::make_unique<Entry>(Entry{MetricType::gauge, std::string(name),
                                                   std::string(help), {}, {}, nullptr,
                                                   std::move(read)}));
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : entries_) {
    static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", e->name, escape_help(e->help), e->name,
                       kTypeNames[static_cast<int>(e->type)]);
    if (e->callback) {
      out += fmt::format("{} {}\n", e->name, format_metric_value(e->callback()));
      continue;
    }
    switch (e->type) {
      case MetricType::counter: {
        auto* family = static_cast<MetricFamily<Counter>*>(e->family);
        std::lock_guard family_lock(family->mutex_);
        for (const auto& [values, child] : family->children_) {
          out += fmt::format("{}{} {}\n", e->name, label_set(e->label_names, values),
                             format_metric_value(child->value()));
        }
        break;
      }
      case MetricType::gauge: {
        auto* family = static_cast<MetricFamily<Gauge>*>(e->family);
        std::lock_guard family_lock(family->mutex_);
        for (const auto& [values, child] : family->children_) {
          out += fmt::format("{}{} {}\n", e->name, label_set(e->label_names, values),
                             format_metric_value(child->value()));
        }
        break;
      }
      case MetricType::histogram: {
        auto* family = static_cast<MetricFamily<Histogram>*>(e->family);
        std::lock_guard family_lock(family->mutex_);
        for (const auto& [values, child] : family->children_) {
          Histogram::Snapshot s = child->snapshot();
          for (size_t i = 0; i < s.cumulative_counts.size(); ++i) {
            std::string le = i < s.upper_bounds.size() ? format_metric_value(s.upper_bounds[i])
                                                        : std::string("+Inf");
            out += fmt::format("{}_bucket{} {}\n", e->name,
                               label_set(e->label_names, values, "le", le),
                               s.cumulative_counts[i]);
          }
          out += fmt::format("{}_sum{} {}\n", e->name, label_set(e->label_names, values),
                             format_metric_value(s.sum));
          out += fmt::format("{}_count{} {}\n", e->name, label_set(e->label_names, values),
                             s.count);
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace keel
