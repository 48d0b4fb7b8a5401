#!/usr/bin/env bash
# Engine speed on Llama-3.2-1B-shaped files against llama.cpp on this machine class and against
# the memory-bandwidth bound measured in the same run (`keel bench` measures it).
#
# Makes the files once (a random F16 model with Keel's writer, then `keel quantize` to Q8_0,
# Q4_0 and Q4_K_M: about 5.5 GB in $KEEL_BENCH_MODELS, default /tmp/keel-bench-models), runs
# `keel bench -p 128 -n 64 -t 2` on each (medians of REPS runs, default 3) and prints the table.
# Writes bench/results/engine-<time>.json and a bar chart of generation as a fraction of the
# bandwidth bound (Keel in this run, llama.cpp on its reference machine) as .svg, and as .png
# where rsvg-convert (librsvg2-bin) is installed.
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
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
/usr/bin/python3 - "$dir" "bench/results/engine-$stamp" "${types[@]}" <<'PY'
import json, os, sys
d, out, types = sys.argv[1], sys.argv[2], sys.argv[3:]
# llama.cpp (llama-bench -t 2 -p 128 -n 64) on this machine class, shared/fixtures/README.md: the
# better of its two runs, and that machine's bandwidth; the issue's targets.
peer = {"F16": (61.2, 6.43), "Q8_0": (41.4, 9.43), "Q4_0": (55.0, 15.2), "Q4_K_M": (50.9, 14.5)}
peer_bandwidth_gb_per_s = 17.6
target = {"F16": (59, 6.3), "Q8_0": (43, 11.4), "Q4_0": (60, 19.5), "Q4_K_M": (55, 18.7)}
rows = [["file", "GB", "pp128 t/s", "llama.cpp", "target", "tg64 t/s", "llama.cpp", "target",
         "bandwidth GB/s", "tg bound t/s", "tg / bound", "llama.cpp / bound"]]
report = {}
for t in types:
    b = json.load(open(os.path.join(d, f"bench-{t}.json")))
    gb = os.path.getsize(os.path.join(d, f"1b-{t}.gguf")) / 1e9
    pp, tg = b["pp_tokens_per_s"]["median"], b["tg_tokens_per_s"]["median"]
    # llama.cpp's generation as a fraction of its machine's bound (same file size).
    peer_fraction = peer[t][1] * gb / peer_bandwidth_gb_per_s
    report[t] = {"keel": b, "llama_cpp_pp": peer[t][0], "llama_cpp_tg": peer[t][1],
                 "llama_cpp_fraction_of_bound": peer_fraction, "target": target[t]}
    rows.append([t, f"{gb:.2f}", f"{pp:.1f}", f"{peer[t][0]:.1f}", f"{target[t][0]}", f"{tg:.2f}",
                 f"{peer[t][1]:.2f}", f"{target[t][1]}", f"{b['bandwidth_gb_per_s']:.1f}",
                 f"{b['tg_bound_tokens_per_s']:.1f}", f"{b['tg_fraction_of_bound']:.0%}", f"{peer_fraction:.0%}"])
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for n, r in enumerate(rows):
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    if n == 0:
        print("  ".join("-" * x for x in w))
with open(out + ".json", "w") as f:
    json.dump(report, f, indent=2)

# Grouped bars: per file type, Keel's and llama.cpp's generation as % of the bound; 85% line.
W, H, pad, top = 720, 380, 64, 56
group = (W - 2 * pad) / len(types)
bar = group / 3.2
def py(v):
    return H - pad - v / 125 * (H - pad - top)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="22" text-anchor="middle" font-size="15">Generation (tg64, 2 threads) as a fraction of the memory-bandwidth bound</text>',
       f'<text x="{W/2}" y="40" text-anchor="middle" fill="#555">Keel: this machine, bandwidth read around each run. llama.cpp: its reference machine (17.6 GB/s)</text>']
for v in range(0, 101, 20):
    svg.append(f'<line x1="{pad}" y1="{py(v):.1f}" x2="{W-pad}" y2="{py(v):.1f}" stroke="#ddd"/>')
    svg.append(f'<text x="{pad-6}" y="{py(v)+4:.1f}" text-anchor="end">{v}%</text>')
svg.append(f'<line x1="{pad}" y1="{py(85):.1f}" x2="{W-pad}" y2="{py(85):.1f}" stroke="#d62728" stroke-dasharray="6 4"/>')
svg.append(f'<text x="{W-pad}" y="{py(85)-5:.1f}" text-anchor="end" fill="#d62728">target 85%</text>')
for i, t in enumerate(types):
    x0 = pad + i * group + (group - 2 * bar) / 2
    for k, (name, value, color) in enumerate([("Keel", 100 * report[t]["keel"]["tg_fraction_of_bound"], "#1f77b4"),
                                              ("llama.cpp", 100 * report[t]["llama_cpp_fraction_of_bound"], "#aaaaaa")]):
        x = x0 + k * bar
        svg.append(f'<rect x="{x:.1f}" y="{py(value):.1f}" width="{bar-4:.1f}" height="{py(0)-py(value):.1f}" fill="{color}"/>')
        svg.append(f'<text x="{x+bar/2-2:.1f}" y="{py(value)-4:.1f}" text-anchor="middle">{value:.0f}%</text>')
    svg.append(f'<text x="{x0+bar:.1f}" y="{H-pad+18}" text-anchor="middle">{t}</text>')
svg.append(f'<rect x="{pad+8}" y="{top+4}" width="12" height="12" fill="#1f77b4"/><text x="{pad+26}" y="{top+14}">Keel</text>')
svg.append(f'<rect x="{pad+78}" y="{top+4}" width="12" height="12" fill="#aaaaaa"/><text x="{pad+96}" y="{top+14}">llama.cpp</text>')
svg.append(f'<line x1="{pad}" y1="{py(0):.1f}" x2="{W-pad}" y2="{py(0):.1f}" stroke="black"/>')
svg.append("</svg>")
with open(out + ".svg", "w") as f:
    f.write("\n".join(svg))
print(f"engine_bench: wrote {out}.json and {out}.svg", file=sys.stderr)
PY
if command -v rsvg-convert >/dev/null; then
  rsvg-convert "bench/results/engine-$stamp.svg" -o "bench/results/engine-$stamp.png"
  echo "engine_bench: wrote bench/results/engine-$stamp.png" >&2
else
  echo "engine_bench: for a PNG as well, apt-get install librsvg2-bin" >&2
fi
