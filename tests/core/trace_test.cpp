#include "core/trace.h"

#include <gtest/gtest.h>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

TEST(Trace, ChildSpansShareTheTraceAndPointAtTheirParent) {
  MemoryTraceSink sink;
  ManualClock clock;
  Tracer tracer(&sink, &clock);
  {
    Span root = tracer.start_span("ask");
    root.set_attribute("question_chars", 42);
    clock.advance_ns(1000);
    {
      Span child = tracer.start_child(root, "retrieve");
      child.set_attribute("k", int64_t{8});
      child.set_attribute("mode", "hybrid");
      clock.advance_ns(500);
    }
    clock.advance_ns(250);
  }
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 2u);
  const SpanRecord& child = spans[0];
  const SpanRecord& root = spans[1];
  EXPECT_EQ(child.name, "retrieve");
  EXPECT_EQ(child.trace_id, root.trace_id);
  EXPECT_EQ(child.parent_span_id, root.span_id);
  EXPECT_EQ(root.parent_span_id, 0u);
  EXPECT_NE(child.span_id, root.span_id);
  EXPECT_EQ(child.duration_ns, 500);
  EXPECT_EQ(root.duration_ns, 1750);
  EXPECT_EQ(child.start_unix_ns - root.start_unix_ns, 1000);
}

TEST(Trace, JsonLinesCarryEveryField) {
  testing::TempDir dir;
  std::string path = dir.file("trace.jsonl");
  {
    auto sink = JsonlTraceSink::open(path);
    ASSERT_TRUE(sink.ok());
    Tracer tracer(sink->get());
    Span root = tracer.start_span("plan");
    root.set_attribute("accepted", true);
    Span child = tracer.start_child(root, "checks");
    child.set_attribute("ratio", 0.5);
    child.end();
    child.end();  // second end records nothing
  }
  std::string text = testing::read_file(path);
  std::vector<Json> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    auto j = parse_json(text.substr(start, end - start));
    ASSERT_TRUE(j.ok());
    lines.push_back(*j);
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    for (const char* key : {"trace_id", "span_id", "parent_span_id", "name", "start_unix_ns",
                            "duration_ns", "attributes"}) {
      EXPECT_TRUE(l.contains(key)) << key;
    }
    EXPECT_EQ(l["trace_id"].get<std::string>().size(), 32u);
    EXPECT_EQ(l["span_id"].get<std::string>().size(), 16u);
  }
  EXPECT_EQ(lines[0]["name"], "checks");
  EXPECT_EQ(lines[0]["parent_span_id"], lines[1]["span_id"]);
  EXPECT_TRUE(lines[1]["parent_span_id"].is_null());
  EXPECT_EQ(lines[0]["attributes"]["ratio"], 0.5);
  EXPECT_EQ(lines[1]["attributes"]["accepted"], true);
}

TEST(Trace, NoSinkRecordsNothing) {
  Tracer tracer(nullptr);
  Span s = tracer.start_span("x");
  EXPECT_FALSE(s.recording());
  s.set_attribute("k", 1);
}

}  // namespace
}  // namespace keel
