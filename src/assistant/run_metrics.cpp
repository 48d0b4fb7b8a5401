#include "assistant/run_metrics.h"

#include "core/metrics.h"

namespace keel::assistant {

std::string render_run_metrics(const LocalResearchRun& run) {
  MetricsRegistry registry;
  const AnswerMetrics& m = run.answer.metrics;
  auto& ttft = registry.histogram("keel_time_to_first_token_seconds",
                                  "Time from the question to the model's first answer token", latency_seconds_buckets());
  auto& tpot = registry.histogram("keel_time_per_output_token_seconds", "Mean time per generated token after the first",
                                  latency_seconds_buckets());
  // An extracted answer generates nothing: the histograms are there, with no observation.
  Histogram& first_token = ttft.get();
  Histogram& per_token = tpot.get();
  if (m.generated_tokens > 0) first_token.observe(m.ttft_ms / 1e3);
  if (m.generated_tokens > 1) per_token.observe(m.tpot_ms / 1e3);
  registry.gauge("keel_model_load_seconds", "Time to open the store, the embedding model and the generator")
      .get()
      .set(m.load_ms / 1e3);
  registry.gauge("keel_rss_peak_bytes", "Peak resident memory of the run").get().set(static_cast<double>(m.rss_peak_bytes));
  registry.gauge("keel_citation_validity_ratio", "Citations that checked out, of those the answer made")
      .get()
      .set(m.citation_validity);
  registry.counter("keel_citations_dropped_total", "Citations dropped because they did not check out")
      .get()
      .inc(m.citations_dropped);
  registry.gauge("keel_index_documents", "Documents in the index").get().set(static_cast<double>(run.index.documents_in_store));
  registry.gauge("keel_index_stale_documents", "Indexed documents changed or missing on disk when answering")
      .get()
      .set(static_cast<double>(m.stale_docs));
  if (run.outbound) {
    registry.counter("keel_outbound_bytes_total", "Bytes sent on any interface of the run's private network namespace")
        .get()
        .inc(static_cast<double>(run.outbound->bytes));
  }
  registry
      .counter("keel_answers_total", "Answers by outcome (answered or declined) and how they were made",
               {"outcome", "mode"})
      .labels({run.answer.declined ? "declined" : "answered",
               run.answer.extracted ? "extract" : (run.answer.model_text.empty() ? "none" : "generate")})
      .inc();
  return registry.render();
}

}  // namespace keel::assistant
