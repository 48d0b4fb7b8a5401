#!/usr/bin/env bash
# Engine speed on Llama-3.2-1B-shaped files against llama.cpp on this machine class and against
# the memory-bandwidth bound measured in the same run (`keel bench` measures it).
#
# Makes the files once (a random F16 model with Keel's writer, then `keel quantize` to Q8_0,
# Q4_0 and Q4_K_M: about 5.5 GB in $KEEL_BENCH_MODELS, default /tmp/keel-bench-models), runs
# `keel bench -p 128 -n 64 -t 2` on each (medians of REPS runs, default 3) and prints the table.
#
#   bench/engine_bench.sh [F16 Q8_0 Q4_0 Q4_K_M]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KEEL_BENCH_MODELS:-/tmp/keel-bench-models}
reps=${REPS:-3}
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(F16 Q8_0 Q4_0 Q4_K_M)
mkdir -p "$dir"
[ -x build/bench/make_bench_model ] || { echo "engine_bench: build first (tools/setup.sh)" >&2; exit 1; }
if [ ! -f "$dir/1b-F16.gguf" ]; then
  build/bench/make_bench_model "$dir/1b-F16.gguf" --shape 1b --type F16
fi
for t in "${types[@]}"; do
  if [ "$t" != F16 ] && [ ! -f "$dir/1b-$t.gguf" ]; then
    echo "engine_bench: quantizing to $t" >&2
    build/keel quantize "$dir/1b-F16.gguf" "$dir/1b-$t.gguf" "$t" >&2
  fi
done
for t in "${types[@]}"; do
  echo "engine_bench: keel bench on 1b-$t.gguf ($reps runs)" >&2
  build/keel bench --model "$dir/1b-$t.gguf" -p 128 -n 64 -t 2 --reps "$reps" --json > "$dir/bench-$t.json"
done
/usr/bin/python3 - "$dir" "${types[@]}" <<'PY'
import json, os, sys
d, types = sys.argv[1], sys.argv[2:]
# llama.cpp (llama-bench -t 2 -p 128 -n 64) on this machine class, shared/fixtures/README.md: the
# better of its two runs; the issue's targets.
peer = {"F16": (61.2, 6.43), "Q8_0": (41.4, 9.43), "Q4_0": (55.0, 15.2), "Q4_K_M": (50.9, 14.5)}
target = {"F16": (59, 6.3), "Q8_0": (43, 11.4), "Q4_0": (60, 19.5), "Q4_K_M": (55, 18.7)}
rows = [["file", "GB", "pp128 t/s", "llama.cpp", "target", "tg64 t/s", "llama.cpp", "target",
         "bandwidth GB/s", "tg bound t/s", "tg / bound"]]
for t in types:
    b = json.load(open(os.path.join(d, f"bench-{t}.json")))
    pp, tg = b["pp_tokens_per_s"]["median"], b["tg_tokens_per_s"]["median"]
    rows.append([t, f"{os.path.getsize(os.path.join(d, f'1b-{t}.gguf')) / 1e9:.2f}", f"{pp:.1f}",
                 f"{peer[t][0]:.1f}", f"{target[t][0]}", f"{tg:.2f}", f"{peer[t][1]:.2f}", f"{target[t][1]}",
                 f"{b['bandwidth_gb_per_s']:.1f}", f"{b['tg_bound_tokens_per_s']:.1f}",
                 f"{b['tg_fraction_of_bound']:.0%}"])
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for n, r in enumerate(rows):
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    if n == 0:
        print("  ".join("-" * x for x in w))
PY
