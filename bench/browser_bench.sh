#!/bin/bash
# Browser classifier (docs/browser-classifier.md): a cold and a warm visit per provider in
# Chromium (the page's default, Wasm here; and ?providers=webgpu on SwiftShader when it runs),
# from the page's own measurement reports, plus Keel's server-side graph runtime against ONNX
# Runtime (onnxruntime-web's Node/Wasm build) on the same 600 held-out documents, all in this
# run on this machine. Medians of --rounds; a table on stdout, progress on stderr,
# bench/results/browser-<time>.{json,svg}. The work is bench/browser_bench.mjs.
#   bench/browser_bench.sh [--rounds N]     (after a build: build/keel; once: (cd web && npm ci && ./vendor.sh))
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${KEEL_BIN:-build/keel}" ] || { echo "browser_bench: build first: cmake --build build --target keel" >&2; exit 1; }
[ -f web/vendor/ort/ort.min.mjs ] && [ -d web/node_modules/playwright-core ] ||
  { echo "browser_bench: run (cd web && npm ci && ./vendor.sh) first" >&2; exit 1; }
[ -x "${KEEL_CHROMIUM:-/usr/bin/chromium}" ] || { echo "browser_bench: no Chromium at ${KEEL_CHROMIUM:-/usr/bin/chromium} (apt-get install chromium, or set KEEL_CHROMIUM)" >&2; exit 1; }
command -v node >/dev/null || { echo "browser_bench: node (20+) is needed" >&2; exit 1; }
exec node --expose-gc bench/browser_bench.mjs "$@"
