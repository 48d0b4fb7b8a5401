// Metrics registry: counters, gauges and histograms with labels, rendered in the Prometheus
// text exposition format (version 0.0.4), which `promtool check metrics` accepts.
//
// Contract:
// - Registering a family returns a reference that lives as long as the registry. Registering
//   the same name again with the same type, help and label names returns the same family;
//   anything else with that name is a programmer error (aborts with a message), as are
//   invalid metric or label names. Counter names end in `_total` (asserted).
// - Updating a metric is thread-safe and lock-free (atomics). Looking up a labelled child
//   takes a mutex: hot paths look it up once and keep the reference.
// - render() is thread-safe and may run while other threads update.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

class Counter {
 public:
  void inc(double amount = 1.0);  //!< amount must be >= 0
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  //! upper_bounds: strictly increasing, finite; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;        //!< without +Inf
    std::vector<uint64_t> cumulative_counts;  //!< one per bound, then one for +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  //! Linear interpolation inside the bucket holding quantile q (0..1), as PromQL does.
  double quantile(double q) const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

//! Buckets for request latencies in seconds, 1 ms .. 60 s.
std::vector<double> latency_seconds_buckets();
//! `count` buckets start, start*factor, ...
std::vector<double> exponential_buckets(double start, double factor, int count);

enum class MetricType { counter, gauge, histogram };

//! All children of one metric name, keyed by label values (in label-name order).
template <typename M>
class MetricFamily {
 public:
  //! The child for these label values (created on first use). Count must match label names.
  M& labels(const std::vector<std::string>& values);
  //! The child without labels (only for families declared without label names).
  M& get() { return labels({}); }

 private:
  friend class MetricsRegistry;
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
               std::function<std::unique_ptr<M>()> make)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  MetricFamily<Counter>& counter(std::string_view name, std::string_view help,
                                 std::vector<std::string> label_names = {});
  MetricFamily<Gauge>& gauge(std::string_view name, std::string_view help,
                             std::vector<std::string> label_names = {});
  MetricFamily<Histogram>& histogram(std::string_view name, std::string_view help,
                                     std::vector<double> upper_bounds,
                                     std::vector<std::string> label_names = {});
  //! A gauge read at render time (e.g. a queue length owned elsewhere). `read` must be
  //! thread-safe and outlive the registry's use.
  void gauge_callback(std::string_view name, std::string_view help, std::function<double()> read);

  //! Prometheus text exposition format, families in registration order.
  std::string render() const;

 private:
  struct Entry {
    MetricType type;
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> buckets;
    void* family = nullptr;  // MetricFamily<M>* matching type; owned by the holders below
    std::function<double()> callback;
  };
  Entry* find_or_check(std::string_view name, MetricType type, std::string_view help,
                       const std::vector<std::string>& label_names,
                       const std::vector<double>& buckets);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::unique_ptr<MetricFamily<Counter>>> counters_;
  std::vector<std::unique_ptr<MetricFamily<Gauge>>> gauges_;
  std::vector<std::unique_ptr<MetricFamily<Histogram>>> histograms_;
};

//! True for names matching [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name);
//! True for names matching [a-zA-Z_][a-zA-Z0-9_]* not starting with "__".
bool is_valid_label_name(std::string_view name);
//! Prometheus sample value: integers without exponent, +Inf/-Inf/NaN spelled as Prometheus does.
std::string format_metric_value(double value);

}  // namespace keel
