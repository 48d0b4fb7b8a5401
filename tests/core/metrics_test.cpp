#include "core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "support/test_support.h"

namespace keel {
namespace {

MetricsRegistry& sample_registry() {
  static MetricsRegistry r;
  static bool filled = [] {
    r.counter("keel_requests_total", "Requests by status and tenant.", {"status", "tenant"})
        .labels({"200", "team \"a\"\nnew line\\"})
        .inc(3);
    r.counter("keel_requests_total", "Requests by status and tenant.", {"status", "tenant"})
        .labels({"429", "b"})
        .inc();
    r.gauge("keel_requests_waiting", "Requests waiting for admission.").get().set(4);
    auto& ttft = r.histogram("keel_time_to_first_token_seconds", "Time to first token.",
                             latency_seconds_buckets());
    for (double v : {0.0005, 0.02, 0.02, 0.3, 100.0}) ttft.get().observe(v);
    r.gauge_callback("keel_kv_blocks_used_ratio", "Share of KV blocks in use.", [] { return 0.25; });
    r.counter("keel_empty_total", "A family with no children yet.");
    return true;
  }();
  (void)filled;
  return r;
}

TEST(Metrics, RendersPrometheusTextFormat) {
  std::string text = sample_registry().render();
  EXPECT_NE(text.find("# TYPE keel_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("keel_requests_total{status=\"200\",tenant=\"team \\\"a\\\"\\nnew line\\\\\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("keel_requests_waiting 4\n"), std::string::npos);
  EXPECT_NE(text.find("keel_time_to_first_token_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("keel_time_to_first_token_seconds_bucket{le=\"0.025\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("keel_time_to_first_token_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("keel_time_to_first_token_seconds_count 5\n"), std::string::npos);
  EXPECT_NE(text.find("keel_kv_blocks_used_ratio 0.25\n"), std::string::npos);
}

TEST(Metrics, PromtoolAcceptsTheOutput) {
  ASSERT_TRUE(testing::have_program("promtool"))
      << "promtool is missing: tools/setup.sh installs Debian's prometheus package";
  auto result = testing::run_command({"promtool", "check", "metrics"}, sample_registry().render());
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // promtool must also reject a broken exposition, or this test proves nothing.
  auto broken = testing::run_command({"promtool", "check", "metrics"},
                                     "# TYPE x counter\nx{a=\"1\" 3\n");
  EXPECT_NE(broken.exit_code, 0);
}

TEST(Metrics, HistogramQuantileInterpolatesLikePromQL) {
  Histogram h({1, 2, 4});
  for (int i = 0; i < 50; ++i) h.observe(0.5);
  for (int i = 0; i < 50; ++i) h.observe(3);
  EXPECT_NEAR(h.quantile(0.5), 1.0, 1e-9);
  EXPECT_NEAR(h.quantile(0.75), 3.0, 1e-9);
  EXPECT_TRUE(std::isnan(Histogram({1}).quantile(0.5)));
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  auto& c = r.counter("keel_test_total", "t").get();
  auto& h = r.histogram("keel_test_seconds", "t", {0.5}).get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.snapshot().count, 40000u);
}

TEST(Metrics, SameDefinitionReturnsSameFamily) {
  MetricsRegistry r;
  auto& a = r.gauge("keel_x", "help", {"k"});
  auto& b = r.gauge("keel_x", "help", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.labels({"v"}), &b.labels({"v"}));
}

TEST(MetricsDeathTest, ConflictingDefinitionsAbort) {
  MetricsRegistry r;
  r.gauge("keel_x", "help");
  EXPECT_DEATH(r.counter("keel_x_total", "help").get(); r.gauge("keel_x", "other help"), "twice");
  EXPECT_DEATH(r.counter("keel_bad", "counters end in _total"), "_total");
  EXPECT_DEATH(r.gauge("9bad", "invalid name"), "invalid metric name");
}

TEST(Metrics, ValueFormatting) {
  EXPECT_EQ(format_metric_value(3), "3");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(INFINITY), "+Inf");
  EXPECT_EQ(format_metric_value(NAN), "NaN");
}

}  // namespace
}  // namespace keel
