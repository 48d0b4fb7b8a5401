#!/usr/bin/env bash
# The whole test suite: set up and build, run every test, then build the unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer and run them again, and the serve, agent, MCP,
# rag and sync tests and the fault proxy with ThreadSanitizer.
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
  # Line tables only: reports still name file and line, and the two builds compile a quarter
  # faster than with full debug information (CI has 45 minutes for everything).
  SANITIZER_DEBUG_INFO="-g1"
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer" >&2
  if [ ! -f build-asan/build.ninja ]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKEEL_WERROR=ON \
      -DKEEL_SANITIZE=address,undefined -DKEEL_BUILD_BENCH=OFF \
      -DCMAKE_CXX_FLAGS="-O1" -DCMAKE_CXX_FLAGS_DEBUG="$SANITIZER_DEBUG_INFO" >/dev/null
  fi
  cmake --build build-asan -j "${KEEL_JOBS:-$(nproc)}" --target keel_unit_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -L unit -j "${KEEL_JOBS:-$(nproc)}"

  # The layers with threads of their own (the server's I/O, loader and scheduler threads; MCP's
  # worker pools; the agent's workers and leases; the answer server's workers, key and catalog
  # reloads; the sync server's workers and ledger pool; the browser app's server beside its
  # test's client; the fault proxy's connection threads)
  # under ThreadSanitizer.
  echo "== serve, agent, MCP, rag, sync, browser and fault-proxy tests under ThreadSanitizer" >&2
  if [ ! -f build-tsan/build.ninja ]; then
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKEEL_WERROR=ON \
      -DKEEL_SANITIZE=thread -DKEEL_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="-O1" \
      -DCMAKE_CXX_FLAGS_DEBUG="$SANITIZER_DEBUG_INFO" >/dev/null
  fi
  cmake --build build-tsan -j "${KEEL_JOBS:-$(nproc)}" --target keel_serve_tests keel_agent_tests keel_mcp_tests keel_rag_tests keel_sync_tests keel_browser_tests keel_net_tests
  for t in serve agent mcp rag sync browser; do
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "build-tsan/tests/$t/keel_${t}_tests"
  done
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/tests/net/keel_net_tests --gtest_filter='FaultProxy.*'
fi
echo "== all tests passed in $(( $(date +%s) - start )) s" >&2
