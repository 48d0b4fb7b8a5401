#!/usr/bin/python3
"""`keel bench` against llama.cpp, both measured in this run on this machine (bench/engine_bench.sh
makes the Llama-3.2-1B-shaped files and calls this; any GGUF files can be given directly).

For each file, REPS rounds; each round runs the peer (bench/peers/llama_bench.mjs: llama.cpp
through node-llama-cpp's prebuilt CPU build) and `keel bench --reps 1` once each, on the same
file with the same threads and the same -p/-n, alternating which goes first. Medians over the
rounds. `keel bench` reads the memory bandwidth around its generation run; the bound
(bandwidth / weight bytes read per token) of each round is applied to both engines' generation
of that round. With more than one thread, a scaling check then times generation with one thread
once per engine: an engine faster with one thread than with T is held up by how its threads meet
(the table says so beside it). Prints a table; writes bench/results/engine-<time>.json, a bar chart
(.svg, and .png where rsvg-convert is installed).

  bench/engine_bench.py [--reps 3] [-p 128] [-n 64] [-t 2] [--no-peer] FILE.gguf...
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.path.join(ROOT, "build", "keel")
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
import llama_peer  # noqa: E402


def log(msg):
    print(f"engine_bench: {msg}", file=sys.stderr, flush=True)


def med(values):
    return statistics.median(values) if values else float("nan")


def keel_bench(path, a, threads=None, prompt=None):
    threads = a.t if threads is None else threads
    prompt = a.p if prompt is None else prompt
    r = subprocess.run([KEEL, "bench", "--model", path, "-p", str(prompt), "-n", str(a.n), "-t", str(threads),
                        "--reps", "1", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"keel bench failed on {path}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def peer_bench(path, a, threads=None, prompt=None):
    threads = a.t if threads is None else threads
    prompt = a.p if prompt is None else prompt
    return llama_peer.run("llama_bench.mjs", ["-m", path, "-p", prompt, "-n", a.n, "-t", threads, "-r", 1])


def table(rows):
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        print("  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)))
        if n == 0:
            print("  ".join("-" * x for x in w))


def chart(path, report, a):
    """Grouped bars per file: generation as % of the bandwidth bound, Keel and llama.cpp."""
    names = list(report["files"])
    values = [v for f in report["files"].values() for v in (f["keel_tg_of_bound"], f.get("peer_tg_of_bound"))
              if v is not None]
    top_value = max([100] + [100 * v for v in values]) * 1.15
    W, H, pad, top = max(820, 140 + 200 * len(names)), 400, 64, 64
    group = (W - 2 * pad) / len(names)
    bar = group / 3.2

    def py(v):
        return H - pad - v / top_value * (H - pad - top)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W/2}" y="22" text-anchor="middle" font-size="15">Generation (tg{a.n}, {a.t} threads) as a share of the memory-bandwidth bound</text>',
           f'<text x="{W/2}" y="40" text-anchor="middle" fill="#555">Keel and llama.cpp ({report["peer"].get("llama_cpp_release", "not run")}) '
           f'measured in the same run on this machine, {report["date"]}; under the bars: prompt tokens/s</text>']
    step = 20 if top_value < 200 else 50 if top_value < 500 else 100
    for v in range(0, int(top_value) + 1, step):
        svg.append(f'<line x1="{pad}" y1="{py(v):.1f}" x2="{W-pad}" y2="{py(v):.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{pad-6}" y="{py(v)+4:.1f}" text-anchor="end">{v}%</text>')
    for i, name in enumerate(names):
        f = report["files"][name]
        x0 = pad + i * group + (group - 2 * bar) / 2
        bars = [("Keel", f["keel_tg_of_bound"], "#1f77b4"), ("llama.cpp", f.get("peer_tg_of_bound"), "#aaaaaa")]
        for k, (_, value, color) in enumerate(bars):
            if value is None:
                continue
            x = x0 + k * bar
            svg.append(f'<rect x="{x:.1f}" y="{py(100*value):.1f}" width="{bar-4:.1f}" height="{py(0)-py(100*value):.1f}" fill="{color}"/>')
            svg.append(f'<text x="{x+bar/2-2:.1f}" y="{py(100*value)-4:.1f}" text-anchor="middle">{100*value:.0f}%</text>')
        svg.append(f'<text x="{x0+bar:.1f}" y="{H-pad+18}" text-anchor="middle">{name}</text>')
        pp = f"Keel {f['keel_pp']:.0f}" + (f", llama.cpp {f['peer_pp']:.0f}" if f.get("peer_pp") else "")
        svg.append(f'<text x="{x0+bar:.1f}" y="{H-pad+34}" text-anchor="middle" fill="#555">pp{a.p}: {pp}</text>')
    svg.append(f'<rect x="{pad+8}" y="{top+4}" width="12" height="12" fill="#1f77b4"/><text x="{pad+26}" y="{top+14}">Keel</text>')
    svg.append(f'<rect x="{pad+78}" y="{top+4}" width="12" height="12" fill="#aaaaaa"/><text x="{pad+96}" y="{top+14}">llama.cpp</text>')
    svg.append(f'<line x1="{pad}" y1="{py(0):.1f}" x2="{W-pad}" y2="{py(0):.1f}" stroke="black"/>')
    svg.append("</svg>")
    with open(path, "w") as out:
        out.write("\n".join(svg))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", metavar="FILE.gguf")
    ap.add_argument("--reps", type=int, default=int(os.environ.get("REPS", 3)))
    ap.add_argument("-p", type=int, default=128, help="prompt tokens (pp)")
    ap.add_argument("-n", type=int, default=64, help="generated tokens (tg)")
    ap.add_argument("-t", type=int, default=2, help="threads, for both engines")
    ap.add_argument("--no-peer", action="store_true", help="Keel and the bandwidth bound only (no ratio)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    if not os.access(KEEL, os.X_OK):
        raise SystemExit("engine_bench: build keel first (tools/setup.sh)")
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "threads": a.t,
              "prompt_tokens": a.p, "gen_tokens": a.n, "reps": a.reps, "peer": {}, "files": {}}
    if not a.no_peer:
        try:
            llama_peer.ensure_installed(log)
        except llama_peer.PeerUnavailable as e:
            raise SystemExit(f"engine_bench: {e}\n(--no-peer measures Keel alone, without a ratio)")
        report["peer"].update(llama_peer.ggml_build())

    for path in a.files:
        name = os.path.basename(path).removesuffix(".gguf")
        keel, peer, load = [], [], []
        for rnd in range(a.reps):
            order = ["peer", "keel"] if rnd % 2 == 0 else ["keel", "peer"]
            for who in order:
                if who == "peer" and a.no_peer:
                    continue
                other = llama_peer.OtherLoad()
                if who == "keel":
                    keel.append(keel_bench(path, a))
                    log(f"{name} round {rnd+1}/{a.reps}: keel      pp{a.p} {keel[-1]['pp_tokens_per_s']['median']:8.1f}  "
                        f"tg{a.n} {keel[-1]['tg_tokens_per_s']['median']:7.2f} tokens/s, "
                        f"bandwidth {keel[-1]['bandwidth_gb_per_s']:.1f} GB/s")
                else:
                    try:
                        peer.append(peer_bench(path, a))
                    except llama_peer.PeerUnavailable as e:
                        raise SystemExit(f"engine_bench: the llama.cpp peer failed on {path}: {e}\n"
                                         f"(--no-peer measures Keel alone, without a ratio)")
                    log(f"{name} round {rnd+1}/{a.reps}: llama.cpp pp{a.p} {peer[-1]['pp_tokens_per_s']['median']:8.1f}  "
                        f"tg{a.n} {peer[-1]['tg_tokens_per_s']['median']:7.2f} tokens/s")
                load.append(other.share())
        # Scaling check: generation with one thread, once each. An engine that generates faster
        # with one thread than with T is limited by how its threads meet, not by its kernels.
        one = {}
        if a.t > 1:
            one["keel"] = keel_bench(path, a, threads=1, prompt=0)["tg_tokens_per_s"]["median"]
            if not a.no_peer:
                try:
                    one["peer"] = peer_bench(path, a, threads=1, prompt=0)["tg_tokens_per_s"]["median"]
                except llama_peer.PeerUnavailable as e:
                    raise SystemExit(f"engine_bench: the llama.cpp peer failed on {path} with 1 thread: {e}")
            log(f"{name}: tg{a.n} with 1 thread: keel {one['keel']:.2f}"
                + (f", llama.cpp {one['peer']:.2f}" if "peer" in one else "") + " tokens/s")
        bytes_per_token = keel[0]["bytes_per_token"]
        bandwidth = [k["bandwidth_gb_per_s"] for k in keel]
        f = {"path": path, "gb": os.path.getsize(path) / 1e9, "type": keel[0]["type"], "kernels": keel[0]["kernels"],
             "bytes_per_token": bytes_per_token,
             "keel_pp": med([k["pp_tokens_per_s"]["median"] for k in keel]),
             "keel_tg": med([k["tg_tokens_per_s"]["median"] for k in keel]),
             "bandwidth_gb_per_s": med(bandwidth),
             "tg_bound": med(bandwidth) * 1e9 / bytes_per_token,
             "keel_tg_of_bound": med([k["tg_fraction_of_bound"] for k in keel]),
             "others_cpu_share": {"median": med(load), "max": max(load), "samples": load},
             "keel_tg_1_thread": one.get("keel"), "keel_runs": keel, "peer_runs": peer}
        if peer:
            report["peer"].update(peer[0]["peer"])
            f["peer_pp"] = med([p["pp_tokens_per_s"]["median"] for p in peer])
            f["peer_tg"] = med([p["tg_tokens_per_s"]["median"] for p in peer])
            # The peer's generation against the bound read in the same round.
            f["peer_tg_of_bound"] = med([p["tg_tokens_per_s"]["median"] * bytes_per_token / (bw * 1e9)
                                         for p, bw in zip(peer, bandwidth)])
            f["pp_ratio"] = f["keel_pp"] / f["peer_pp"]
            f["tg_ratio"] = f["keel_tg"] / f["peer_tg"]
            f["peer_flash_attention"] = peer[0]["flash_attention"]
            f["peer_tg_1_thread"] = one.get("peer")
        report["files"][name] = f

    sys.stderr.flush()
    print(f"\nkeel bench against llama.cpp, same files, {a.t} threads, pp{a.p} and tg{a.n}, tokens/s "
          f"(median of {a.reps} alternating rounds, this machine, this run)")
    if report["peer"]:
        print(f"llama.cpp: {llama_peer.describe(report['peer'])}")
    print()
    rows = [["file", "GB", f"pp{a.p} Keel", "llama.cpp", "Keel/llama.cpp", f"tg{a.n} Keel", "llama.cpp",
             "Keel/llama.cpp", "bandwidth GB/s", "tg bound", "Keel/bound", "llama.cpp/bound", "others' CPU"]]
    for name, f in report["files"].items():
        has = "peer_tg" in f
        rows.append([name, f"{f['gb']:.2f}", f"{f['keel_pp']:.1f}", f"{f['peer_pp']:.1f}" if has else "not run",
                     f"{f['pp_ratio']:.2f}x" if has else "-", f"{f['keel_tg']:.2f}",
                     f"{f['peer_tg']:.2f}" if has else "not run", f"{f['tg_ratio']:.2f}x" if has else "-",
                     f"{f['bandwidth_gb_per_s']:.1f}", f"{f['tg_bound']:.1f}", f"{f['keel_tg_of_bound']:.0%}",
                     f"{f['peer_tg_of_bound']:.0%}" if has else "-",
                     f"{f['others_cpu_share']['median']:.0%}/{f['others_cpu_share']['max']:.0%}"])
    table(rows)
    if a.t > 1:
        print(f"\ngeneration with 1 thread against {a.t} (one run each; the scaling check):")
        for name, f in report["files"].items():
            line = f"  {name}: Keel {f['keel_tg_1_thread']:.2f} -> {f['keel_tg']:.2f} tokens/s"
            if f.get("peer_tg_1_thread"):
                line += f", llama.cpp {f['peer_tg_1_thread']:.2f} -> {f['peer_tg']:.2f} tokens/s"
                if f["peer_tg_1_thread"] > f["peer_tg"]:
                    line += (f"  <- llama.cpp is faster with 1 thread than with {a.t}: its threads were held up "
                             f"(node-llama-cpp decodes on libuv worker threads and ggml starts its helper threads "
                             f"anew for each decode; where the kernel puts a helper on the caller's core, ggml's "
                             f"spinning barrier stalls). Its tg figure and ratio above reflect that, not its kernels")
            print(line)
    print("\nbandwidth: read by keel bench around each of its generation runs; the bound of each round applies to "
          "both engines' generation in that round.\nothers' CPU: the share of all cores that other processes used "
          "while the runs were measured (median/max over the runs).")
    busiest = max(x for f in report["files"].values() for x in f["others_cpu_share"]["samples"])
    if busiest > 0.1:
        print(f"warning: other processes used up to {busiest:.0%} of the cores during these runs. With every core "
              f"given a benchmark thread, llama.cpp's spinning thread barrier loses far more to such competition "
              f"than Keel's thread pool: rerun on a quiet machine before reading the ratios as engine speed.")
    sys.stdout.flush()

    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, "engine-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    with open(out + ".json", "w") as fh:
        json.dump(report, fh, indent=2)
    chart(out + ".svg", report, a)
    written = [out + ".json", out + ".svg"]
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", out + ".svg", "-o", out + ".png"], check=True)
        written.append(out + ".png")
    else:
        log("for a PNG as well, apt-get install librsvg2-bin")
    log("wrote " + ", ".join(os.path.relpath(w, ROOT) for w in written))


if __name__ == "__main__":
    main()
