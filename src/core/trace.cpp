#include "core/trace.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "core/json.h"

namespace keel {

namespace {

uint64_t random_nonzero_u64() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t v;
  do v = rng();
  while (v == 0);
  return v;
}

}  // namespace

std::string trace_id_hex(const TraceId& id) {
  std::string out;
  for (uint8_t b : id) out += fmt::format("{:02x}", b);
  return out;
}

std::string span_id_hex(uint64_t id) { return fmt::format("{:016x}", id); }

std::string span_to_json_line(const SpanRecord& span) {
  Json attributes = Json::object();
  for (const auto& attribute : span.attributes) {
    std::visit([&](const auto& v) { attributes[attribute.first] = v; }, attribute.second);
  }
  Json line = {
      {"trace_id", trace_id_hex(span.trace_id)},
      {"span_id", span_id_hex(span.span_id)},
      {"parent_span_id",
       span.parent_span_id ? Json(span_id_hex(span.parent_span_id)) : Json(nullptr)},
      {"name", span.name},
      {"start_unix_ns", span.start_unix_ns},
      {"duration_ns", span.duration_ns},
      {"attributes", std::move(attributes)},
  };
  return dump_json(line);
}

Result<std::unique_ptr<JsonlTraceSink>> JsonlTraceSink::open(const std::string& path) {
  if (path == "-") return std::unique_ptr<JsonlTraceSink>(new JsonlTraceSink(stderr, false));
  FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) {
    return Status::unavailable(
        fmt::format("cannot open trace file {}: {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<JsonlTraceSink>(new JsonlTraceSink(f, true));
}

JsonlTraceSink::~JsonlTraceSink() {
  if (owned_) std::fclose(file_);
}

void JsonlTraceSink::write(const SpanRecord& span) {
  std::string line = span_to_json_line(span);
  line += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

void MemoryTraceSink::write(const SpanRecord& span) {
  std::lock_guard lock(mutex_);
  spans_.push_back(span);
}

std::vector<SpanRecord> MemoryTraceSink::spans() const {
  std::lock_guard lock(mutex_);
  return spans_;
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    tracer_ = std::exchange(other.tracer_, nullptr);
    start_mono_ns_ = other.start_mono_ns_;
    record_ = std::move(other.record_);
  }
  return *this;
}

void Span::set_value(std::string key, AttributeValue value) {
  if (!tracer_) return;
  record_.attributes.emplace_back(std::move(key), std::move(value));
}

void Span::end() {
  if (!tracer_) return;
  record_.duration_ns = tracer_->clock_->now_ns() - start_mono_ns_;
  tracer_->sink_->write(record_);
  tracer_ = nullptr;
}

Span Tracer::start_span(std::string name) {
  Span span;
  if (!sink_) return span;
  span.tracer_ = this;
  uint64_t hi = random_nonzero_u64(), lo = random_nonzero_u64();
  std::memcpy(span.record_.trace_id.data(), &hi, 8);
  std::memcpy(span.record_.trace_id.data() + 8, &lo, 8);
  span.record_.span_id = random_nonzero_u64();
  span.record_.name = std::move(name);
  span.record_.start_unix_ns = clock_->unix_now_ns();
  span.start_mono_ns_ = clock_->now_ns();
  return span;
}

Span Tracer::start_child(const Span& parent, std::string name) {
  Span span = start_span(std::move(name));
  if (span.recording() && parent.record_.span_id != 0) {  // the parent may have ended
    span.record_.trace_id = parent.record_.trace_id;
    span.record_.parent_span_id = parent.record_.span_id;
  }
  return span;
}

}  // namespace keel
