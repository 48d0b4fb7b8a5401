// Trace events: spans written as JSON lines, one object per finished span:
//   {"trace_id":"<32 hex>","span_id":"<16 hex>","parent_span_id":"<16 hex>"|null,
//    "name":"...","start_unix_ns":N,"duration_ns":N,"attributes":{...}}
//
// Contract:
// - A Span is recorded once, when end() is called or it is destroyed, whichever comes first.
// - A child span shares its parent's trace id. Ids are random and non-zero.
// - Tracer and sinks are thread-safe; a Span belongs to one thread at a time.
// - A Tracer without a sink records nothing and costs almost nothing.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace keel {

using TraceId = std::array<uint8_t, 16>;
using AttributeValue = std::variant<bool, int64_t, double, std::string>;

struct SpanRecord {
  TraceId trace_id{};
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;  //!< 0 for a root span
  std::string name;
  int64_t start_unix_ns = 0;
  int64_t duration_ns = 0;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
};

//! One JSON line for a span (no trailing newline).
std::string span_to_json_line(const SpanRecord& span);

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void write(const SpanRecord& span) = 0;
};

//! Appends JSON lines to a file (flushed per span so a crash loses at most the open spans).
class JsonlTraceSink final : public TraceSink {
 public:
  //! Opens `path` for appending; "-" writes to stderr.
  static Result<std::unique_ptr<JsonlTraceSink>> open(const std::string& path);
  ~JsonlTraceSink() override;
  void write(const SpanRecord& span) override;

 private:
  JsonlTraceSink(FILE* file, bool owned) : file_(file), owned_(owned) {}
  std::mutex mutex_;
  FILE* file_;
  bool owned_;
};

//! Keeps spans in memory (for tests and for commands that print their own timeline).
class MemoryTraceSink final : public TraceSink {
 public:
  void write(const SpanRecord& span) override;
  std::vector<SpanRecord> spans() const;

 private:
  mutable std::mutex mutex_;
  std::vector<SpanRecord> spans_;
};

class Tracer;

class Span {
 public:
  Span() = default;  // inert: records nothing
  Span(Span&& other) noexcept { *this = std::move(other); }
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { end(); }

  void set_attribute(std::string key, bool value) { set_value(std::move(key), value); }
  void set_attribute(std::string key, double value) { set_value(std::move(key), value); }
  void set_attribute(std::string key, std::string value) { set_value(std::move(key), std::move(value)); }
  void set_attribute(std::string key, const char* value) { set_value(std::move(key), std::string(value)); }
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  void set_attribute(std::string key, T value) {
    set_value(std::move(key), static_cast<int64_t>(value));
  }
  //! Records the span now; later calls do nothing.
  void end();

  const TraceId& trace_id() const { return record_.trace_id; }
  uint64_t span_id() const { return record_.span_id; }
  bool recording() const { return tracer_ != nullptr; }

 private:
  friend class Tracer;
  void set_value(std::string key, AttributeValue value);
  Tracer* tracer_ = nullptr;
  int64_t start_mono_ns_ = 0;
  SpanRecord record_;
};

class Tracer {
 public:
  //! sink may be null (tracing off). Both pointers must outlive the tracer's spans.
  explicit Tracer(TraceSink* sink, const Clock* clock = &system_clock())
      : sink_(sink), clock_(clock) {}

  Span start_span(std::string name);
  Span start_child(const Span& parent, std::string name);

 private:
  friend class Span;
  TraceSink* sink_;
  const Clock* clock_;
};

std::string trace_id_hex(const TraceId& id);
std::string span_id_hex(uint64_t id);

}  // namespace keel
