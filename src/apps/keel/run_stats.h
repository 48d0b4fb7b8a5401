// Process statistics commands report: peak resident memory (VmHWM from /proc/self/status).
#pragma once

#include <cstdint>

namespace keel::app {

class RunStats {
 public:
  //! Peak resident set size of this process so far, in bytes (0 if unknown).
  int64_t peak_rss_bytes() const;
  //! Current resident set size in bytes (0 if unknown).
  int64_t rss_bytes() const;
};

}  // namespace keel::app
