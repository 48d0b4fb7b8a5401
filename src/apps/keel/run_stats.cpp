#include "apps/keel/run_stats.h"

#include <cstdio>
#include <cstring>

namespace keel::app {

namespace {

int64_t status_kib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return 0;
  char line[256];
  int64_t kib = 0;
  size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, n) == 0) {
      kib = std::strtoll(line + n, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

}  // namespace

int64_t RunStats::peak_rss_bytes() const { return status_kib("VmHWM:") * 1024; }
int64_t RunStats::rss_bytes() const { return status_kib("VmRSS:") * 1024; }

}  // namespace keel::app
