#!/usr/bin/env bash
# Engine speed on Llama-3.2-1B-shaped files: `keel bench` against llama.cpp (node-llama-cpp's
# prebuilt CPU build, installed into bench/peers on first use) and against the memory-bandwidth
# bound, all measured in this run on this machine.
#
# Makes the files once (a random F16 model with Keel's writer, then `keel quantize` to Q8_0,
# Q4_0 and Q4_K_M: about 5.5 GB in $KEEL_BENCH_MODELS, default /tmp/keel-bench-models), then
# runs bench/engine_bench.py on them: REPS rounds (default 3) per file, each round llama.cpp and
# `keel bench -p 128 -n 64 -t 2` once, alternating which goes first; medians, a table, and
# bench/results/engine-<time>.{json,svg} (and .png where rsvg-convert, librsvg2-bin, is installed).
# PEER=0 measures Keel and the bound alone (no ratio). Other GGUF files:
# bench/engine_bench.py FILE.gguf...
#
#   bench/engine_bench.sh [F16 Q8_0 Q4_0 Q4_K_M]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KEEL_BENCH_MODELS:-/tmp/keel-bench-models}
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(F16 Q8_0 Q4_0 Q4_K_M)
mkdir -p "$dir"
[ -x build/bench/make_bench_model ] || { echo "engine_bench: build first (tools/setup.sh)" >&2; exit 1; }
if [ ! -f "$dir/1b-F16.gguf" ]; then
  build/bench/make_bench_model "$dir/1b-F16.gguf" --shape 1b --type F16
fi
files=()
for t in "${types[@]}"; do
  if [ "$t" != F16 ] && [ ! -f "$dir/1b-$t.gguf" ]; then
    echo "engine_bench: quantizing to $t" >&2
    build/keel quantize "$dir/1b-F16.gguf" "$dir/1b-$t.gguf" "$t" >&2
  fi
  files+=("$dir/1b-$t.gguf")
done
peer=()
[ "${PEER:-1}" != 0 ] || peer=(--no-peer)
exec /usr/bin/python3 bench/engine_bench.py --reps "${REPS:-3}" -p 128 -n 64 -t 2 "${peer[@]}" "${files[@]}"
