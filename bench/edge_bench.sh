#!/bin/bash
# The edge runtime's per-frame latency against ONNX Runtime on the same ONNX file, same input,
# one thread each, in the same run (alternating rounds; medians). The model is a MobileNet-like
# network made here with seeded random weights (bench/make_edge_bench_model.py): depthwise-
# separable blocks with BatchNormalization and HardSwish on a 1x3x96x96 frame.
#   bench/edge_bench.sh [--rounds N] [--frames N]      (after a build, and `cd web && npm ci`)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 frames=100
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    *) echo "usage: bench/edge_bench.sh [--rounds N] [--frames N]" >&2; exit 2 ;;
  esac
done
[ -x build/keel ] || { echo "build first: cmake --build build --target keel" >&2; exit 1; }
[ -d web/node_modules/onnxruntime-web ] || { echo "install the peer first: (cd web && npm ci)" >&2; exit 1; }
dir=$(mktemp -d /tmp/keel-edge-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 bench/make_edge_bench_model.py "$dir/model.onnx" >&2
build/keel edge prepare "$dir/model.onnx" --device examples/mobile-vision/devices/cpu-only.yaml \
  -o "$dir/model.kprog" | grep -E "MACs per frame|memory plan" >&2
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: > "$dir/keel.txt"; : > "$dir/ort.txt"
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: keel" >&2
  build/keel edge bench "$dir/model.kprog" --frames "$frames" --json |
    node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log(j.p50_ms, j.p99_ms)' >> "$dir/keel.txt"
  echo "round $r/$rounds: onnxruntime" >&2
  node bench/edge_bench_peer.mjs "$dir/model.onnx" "$frames" >> "$dir/ort.txt"
done
k50=$(cut -d' ' -f1 "$dir/keel.txt" | median); k99=$(cut -d' ' -f2 "$dir/keel.txt" | median)
o50=$(cut -d' ' -f1 "$dir/ort.txt" | median); o99=$(cut -d' ' -f2 "$dir/ort.txt" | median)
printf "\n%-40s %10s %10s\n" "engine (1 thread, 1x3x96x96, $frames frames)" "p50 ms" "p99 ms"
printf "%-40s %10.3f %10.3f\n" "keel (portable CPU kernels)" "$k50" "$k99"
printf "%-40s %10.3f %10.3f\n" "onnxruntime-web $(node -p 'require("./web/node_modules/onnxruntime-web/package.json").version') (Node, Wasm SIMD)" "$o50" "$o99"
awk -v k="$k50" -v o="$o50" 'BEGIN {printf "ratio ONNX Runtime p50 / Keel p50 = %.2f (> 1: Keel is faster); medians of %d rounds, this machine, this run\n", o/k, '"$rounds"'}'
