#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>

namespace keel {

namespace {

LogLevel initial_level() {
  LogLevel level = LogLevel::info;
  if (const char* env = std::getenv("KEEL_LOG")) parse_log_level(env, &level);
  return level;
}

std::atomic<LogLevel>& level_ref() {
  static std::atomic<LogLevel> level{initial_level()};
  return level;
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stderr_color_mt("keel");
    l->set_pattern("%^[%Y-%m-%d %H:%M:%S.%e] [%l]%$ %v");
    l->set_level(spdlog::level::trace);  // filtering happens in log_at()
    return l;
  }();
  return *instance;
}

}  // namespace

void set_log_level(LogLevel level) { level_ref().store(level); }
LogLevel log_level() { return level_ref().load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, LogLevel* level) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off}};
  for (const auto& [name, value] : kNames) {
    if (text == name) {
      *level = value;
      return true;
    }
  }
  return false;
}

void log_message(LogLevel level, std::string_view message) {
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case LogLevel::trace: l = spdlog::level::trace; break;
    case LogLevel::debug: l = spdlog::level::debug; break;
    case LogLevel::info: l = spdlog::level::info; break;
    case LogLevel::warn: l = spdlog::level::warn; break;
    case LogLevel::error: l = spdlog::level::err; break;
    case LogLevel::off: return;
  }
  logger().log(l, "{}", message);
}

}  // namespace keel
