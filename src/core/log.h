// Logging for people: one line per event on stderr, levelled. Machine-readable records belong
// in metrics (core/metrics.h) and trace events (core/trace.h), not here.
//
// Contract: thread-safe; a disabled level costs one comparison (the message is not formatted).
// stdout is never written: commands keep it for their results (plans, JSON, answers).
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace keel {

enum class LogLevel { trace = 0, debug, info, warn, error, off };

void set_log_level(LogLevel level);
LogLevel log_level();
//! Parses "trace|debug|info|warn|error|off"; false if unknown.
bool parse_log_level(std::string_view text, LogLevel* level);

void log_message(LogLevel level, std::string_view message);

template <typename... Args>
void log_at(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level < log_level()) return;
  log_message(level, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... a) { log_at(LogLevel::debug, f, std::forward<Args>(a)...); }
template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... a) { log_at(LogLevel::info, f, std::forward<Args>(a)...); }
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... a) { log_at(LogLevel::warn, f, std::forward<Args>(a)...); }
template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... a) { log_at(LogLevel::error, f, std::forward<Args>(a)...); }

}  // namespace keel
