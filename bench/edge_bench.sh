#!/bin/bash
# The edge runtime's per-frame latency against ONNX Runtime on the same ONNX file, same input,
# one thread each, in the same run (alternating rounds; medians). The model is a MobileNet-like
# network made here with seeded random weights (bench/make_edge_bench_model.py): depthwise-
# separable blocks with BatchNormalization and HardSwish on a 1x3x96x96 frame.
#   bench/edge_bench.sh [--rounds N] [--frames N] [--model FILE.onnx]
#   (after a build, and `cd web && npm ci`). --model benches that file instead, e.g. the scenario's
#   models/vision/keel-vision.onnx (1x1x32x32).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 frames=100 model=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "usage: bench/edge_bench.sh [--rounds N] [--frames N] [--model FILE.onnx]" >&2; exit 2 ;;
  esac
done
[ -x build/keel ] || { echo "build first: cmake --build build --target keel" >&2; exit 1; }
[ -d web/node_modules/onnxruntime-web ] || { echo "install the peer first: (cd web && npm ci)" >&2; exit 1; }
[ -d bench/node_modules/onnxruntime-node ] ||
  { echo "install the peer first: (cd bench && npm ci --ignore-scripts)" >&2; exit 1; }
dir=$(mktemp -d /tmp/keel-edge-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
if [ -n "$model" ]; then
  cp "$model" "$dir/model.onnx"
else
  /usr/bin/python3 bench/make_edge_bench_model.py "$dir/model.onnx" >&2
fi
build/keel edge prepare "$dir/model.onnx" --device examples/mobile-vision/devices/cpu-only.yaml \
  -o "$dir/model.kprog" | grep -E "MACs per frame|memory plan" >&2
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: > "$dir/keel.txt"; : > "$dir/ort.txt"; : > "$dir/ortweb.txt"
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: keel" >&2
  build/keel edge bench "$dir/model.kprog" --frames "$frames" --json |
    node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log(j.p50_ms, j.p99_ms)' >> "$dir/keel.txt"
  echo "round $r/$rounds: onnxruntime (native CPU)" >&2
  node bench/edge_bench_peer.mjs "$dir/model.onnx" "$frames" node >> "$dir/ort.txt"
  echo "round $r/$rounds: onnxruntime-web (Wasm)" >&2
  node bench/edge_bench_peer.mjs "$dir/model.onnx" "$frames" web >> "$dir/ortweb.txt"
done
k50=$(cut -d' ' -f1 "$dir/keel.txt" | median); k99=$(cut -d' ' -f2 "$dir/keel.txt" | median)
o50=$(cut -d' ' -f1 "$dir/ort.txt" | median); o99=$(cut -d' ' -f2 "$dir/ort.txt" | median)
w50=$(cut -d' ' -f1 "$dir/ortweb.txt" | median); w99=$(cut -d' ' -f2 "$dir/ortweb.txt" | median)
shape=$(build/keel edge inspect "$dir/model.kprog" --json | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log(j.input_shape.join("x"))')
printf "\n%-40s %10s %10s\n" "engine (1 thread, $shape, $frames frames)" "p50 ms" "p99 ms"
printf "%-40s %10.3f %10.3f\n" "keel (portable CPU kernels)" "$k50" "$k99"
ortv() { node -p "require('./$1/node_modules/$2/package.json').version"; }
printf "%-40s %10.3f %10.3f\n" "onnxruntime-node $(ortv bench onnxruntime-node) (native CPU)" "$o50" "$o99"
printf "%-40s %10.3f %10.3f\n" "onnxruntime-web $(ortv web onnxruntime-web) (Node, Wasm SIMD)" "$w50" "$w99"
awk -v k="$k50" -v o="$o50" -v w="$w50" 'BEGIN {printf "ratio p50 ONNX Runtime native / Keel = %.2f, Wasm / Keel = %.2f (> 1: Keel is faster); medians of %d rounds, this machine, this run\n", o/k, w/k, '"$rounds"'}'
