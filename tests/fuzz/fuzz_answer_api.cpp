// Fuzz target: the enterprise-rag API bodies (/v1/answers, /v1/chat/completions) and what reads
// the question they carry (the question reader, field masking). Whatever the bytes: no crash;
// an accepted question is valid UTF-8 within the size bound, and any typed request the reader
// makes from it names only the catalog's metric.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "context/access_policy.h"
#include "core/utf8.h"
#include "rag/answer_api.h"
#include "rag/question_reader.h"

namespace {

const keel::semantic::MetricCatalog& catalog() {
  static const keel::semantic::MetricCatalog c = [] {
    auto r = keel::semantic::parse_metric_catalog(R"(keel_catalog: 1
version: fuzz
tables:
  orders: {tenant_column: tenant_id}
metrics:
  - name: revenue
    table: orders
    measure: {aggregate: sum, column: amount}
    unit: EUR
    time_column: ordered_at
    grains: [day, month]
    dimensions:
      - {name: region, type: string}
      - {name: customer, column: customer_name, type: string}
    filters: [region, customer]
    roles: [analyst]
)", "fuzz.yaml");
    if (!r.ok()) std::abort();
    return *r;
  }();
  return c;
}

void read_question(const std::string& question) {
  if (question.size() > keel::rag::kMaxQuestionBytes || !keel::is_valid_utf8(question)) std::abort();
  if (auto typed = keel::rag::read_metric_request(catalog(), question)) {
    if ((*typed)["metric"] != "revenue") std::abort();
  }
  (void)keel::rag::asks_for_a_number(question);
  auto masked = keel::context::mask_fields(question, {"salary", "region"});
  if (masked.text.size() < question.size() / 2) std::abort();  // masking replaces values, keeps lines
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto a = keel::rag::parse_answer_request(body); a.ok()) read_question(a->question);
  if (auto c = keel::rag::parse_chat_request(body); c.ok()) read_question(c->request.question);
  return 0;
}
