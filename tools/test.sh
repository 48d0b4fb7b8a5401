#!/usr/bin/env bash
# The whole test suite: set up and build, run every test, then build the unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer and run them again.
#   KEEL_SKIP_SANITIZERS=1 tools/test.sh   skips the sanitizer pass (local iteration only)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
tools/setup.sh

echo "== unit tests (Release build)" >&2
ctest --test-dir build --output-on-failure -L unit -j "${KEEL_JOBS:-$(nproc)}"
# End-to-end tests start servers, databases and workers and some compare latencies under load:
# one at a time, so they do not measure each other.
echo "== end-to-end tests (Release build)" >&2
ctest --test-dir build --output-on-failure -LE unit -j 1

if [ "${KEEL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer" >&2
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKEEL_WERROR=ON \
      -DKEEL_SANITIZE=address,undefined -DKEEL_BUILD_BENCH=OFF \
      -DCMAKE_CXX_FLAGS="-O1" >/dev/null
  fi
  cmake --build build-asan -j "${KEEL_JOBS:-$(nproc)}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -L unit -j "${KEEL_JOBS:-$(nproc)}"
fi
echo "== all tests passed in $(( $(date +%s) - start )) s" >&2
