#!/usr/bin/python3
"""Benchmarks `keel serve` with `keel loadgen` on this machine, three workloads:

  1. concurrency sweep (1/4/8/16 clients): aggregate generated tokens/s and TTFT, against
     llama.cpp's server on the same model and threads (figures from shared/fixtures/README.md);
  2. shared prefix (a long common system prompt): the share of the shared prefill avoided;
  3. 10x overload: rejections, TTFT p99 of admitted requests against concurrency 8, peak RSS.

Each workload runs --repeats times and reports medians (the machine is shared and noisy).
Prints tables; writes JSON and an SVG chart into --out (default bench/results/).

  bench/serve_bench.py [--model FILE] [--threads 2] [--repeats 3] [--quick]
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.path.join(ROOT, "build", "keel")

# llama.cpp's server on small-random-288x6-Q8_0.gguf, 8 slots, 2 threads, 68-token prompts and
# 128 generated tokens, streaming (shared/fixtures/README.md): the best figure of its range.
PEER = {"name": "llama.cpp server", "tokens_per_s": {1: 365, 4: 484, 8: 510},
        "ttft_p99_ms": {1: 39, 4: 111, 8: 150}}


def log(msg):
    print(f"[serve-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    def __init__(self, model, threads, extra):
        args = [KEEL, "serve", "--model", model, "--port", "0", "--threads", str(threads)] + extra
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.url = None
        deadline = time.time() + 60
        while time.time() < deadline and self.url is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
        if self.url is None:
            raise SystemExit("keel serve did not start")
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/readyz", timeout=2).status == 200:
                    return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("keel serve did not become ready")

    def metrics(self):
        text = urllib.request.urlopen(self.url + "/metrics", timeout=5).read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def peak_rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def loadgen(url, concurrency, requests, prompt, max_tokens, shared_prefix=0):
    args = [KEEL, "loadgen", "--url", url, "-c", str(concurrency), "-n", str(requests),
            "--prompt-tokens", str(prompt), "--max-tokens", str(max_tokens), "--json"]
    if shared_prefix:
        args += ["--shared-prefix", str(shared_prefix)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"keel loadgen failed: {r.stderr}")
    return json.loads(r.stdout)


def med(values):
    return statistics.median(values) if values else float("nan")


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print()


def svg_chart(path, title, series, x_label, y_label):
    """A small line chart: series = {name: [(x, y), ...]}."""
    w, h, pad = 640, 360, 60
    xs = sorted({x for pts in series.values() for x, _ in pts})
    y_max = max(y for pts in series.values() for _, y in pts) * 1.15 or 1
    def px(x):
        return pad + (xs.index(x) / max(len(xs) - 1, 1)) * (w - 2 * pad)
    def py(y):
        return h - pad - y / y_max * (h - 2 * pad)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="24" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{pad}" y1="{h-pad}" x2="{w-pad}" y2="{h-pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h-pad}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-20}" text-anchor="middle">{x_label}</text>',
           f'<text x="16" y="{h/2}" transform="rotate(-90 16 {h/2})" text-anchor="middle">{y_label}</text>']
    for i in range(5):
        y = y_max * i / 4
        out.append(f'<text x="{pad-6}" y="{py(y)+4}" text-anchor="end">{y:.0f}</text>')
        out.append(f'<line x1="{pad}" y1="{py(y)}" x2="{w-pad}" y2="{py(y)}" stroke="#ddd"/>')
    for x in xs:
        out.append(f'<text x="{px(x)}" y="{h-pad+16}" text-anchor="middle">{x}</text>')
    for k, (name, pts) in enumerate(series.items()):
        c = colors[k % len(colors)]
        pts = sorted(pts)
        out.append('<polyline fill="none" stroke-width="2" stroke="%s" points="%s"/>' %
                   (c, " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)))
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
        out.append(f'<text x="{pad+10}" y="{pad+16*k}" fill="{c}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "fixtures", "small-random-288x6-Q8_0.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    if not os.path.exists(KEEL):
        raise SystemExit("build keel first: tools/setup.sh")
    os.makedirs(a.out, exist_ok=True)
    scale = 0.25 if a.quick else 1.0
    report = {"model": os.path.basename(a.model), "threads": a.threads, "repeats": a.repeats,
              "date": datetime.datetime.now().isoformat(timespec="seconds"), "peer": PEER}

    # 1. Concurrency sweep: llama.cpp's setting (8 slots, 68-token prompts, 128 tokens).
    log(f"concurrency sweep on {report['model']}, {a.threads} threads")
    server = Server(a.model, a.threads, ["--max-running", "8", "--ctx", "1024", "--max-waiting", "64",
                                         "--max-tokens-limit", "128"])
    sweep = {}
    try:
        loadgen(server.url, 2, 4, 68, 16)  # warm-up
        for c in (1, 4, 8, 16):
            runs = []
            for rep in range(a.repeats):
                n = max(4, int(max(8, 4 * c) * scale))
                r = loadgen(server.url, c, n, 68, 128)
                runs.append(r)
                log(f"  c={c} run {rep+1}/{a.repeats}: {r['tokens_per_s']:.0f} tokens/s, TTFT p99 {r['ttft_ms']['p99']:.0f} ms")
            sweep[c] = {"tokens_per_s": med([r["tokens_per_s"] for r in runs]),
                        "ttft_p50_ms": med([r["ttft_ms"]["p50"] for r in runs]),
                        "ttft_p99_ms": med([r["ttft_ms"]["p99"] for r in runs]),
                        "tpot_p50_ms": med([r["tpot_ms"]["p50"] for r in runs]),
                        "prompt_tokens_per_request": runs[0]["prompt_tokens"] / max(runs[0]["completed"], 1)}
    finally:
        server.stop()
    report["concurrency"] = sweep
    print(f"\nkeel serve, {report['model']}, {a.threads} threads, 8 slots, ~68-token prompts, 128 tokens "
          f"(median of {a.repeats})\n")
    rows = []
    for c, s in sweep.items():
        peer = PEER["tokens_per_s"].get(c)
        rows.append([c, f"{s['tokens_per_s']:.0f}", f"{peer}" if peer else "-",
                     f"{s['tokens_per_s']/peer:.2f}x" if peer else "-",
                     f"{s['ttft_p50_ms']:.0f}", f"{s['ttft_p99_ms']:.0f}",
                     f"{PEER['ttft_p99_ms'].get(c, '-')}", f"{s['tpot_p50_ms']:.1f}"])
    table(["clients", "tokens/s", "llama.cpp", "ratio", "TTFT p50 ms", "TTFT p99 ms", "llama.cpp p99", "TPOT p50 ms"], rows)

    # 2. Shared prefix: 600-word prompts whose first 540 words are common.
    log("shared-prefix workload")
    server = Server(a.model, a.threads, ["--max-running", "8", "--ctx", "2048", "--max-tokens-limit", "64"])
    shared = []
    try:
        for rep in range(a.repeats):
            before = server.metrics()
            n = max(8, int(32 * scale))
            r = loadgen(server.url, 4, n, 600, 16, shared_prefix=540)
            after = server.metrics()
            avoided = after.get("keel_prefill_tokens_avoided_total", 0) - before.get("keel_prefill_tokens_avoided_total", 0)
            prompt = r["prompt_tokens"]
            per_request = prompt / max(r["completed"], 1)
            shared_tokens = per_request * 540 / 600  # the common part, in tokens
            # The first wave (one request per client) starts together, before any prefix is
            # cached; every later request can reuse the shared part.
            reusable = shared_tokens * max(r["completed"] - 4, 1)
            shared.append({"avoided": avoided, "prompt_tokens": prompt, "reusable": reusable,
                           "share_avoided": min(avoided / reusable, 1.0) if reusable else 0})
            log(f"  run {rep+1}: {avoided:.0f} prefill tokens avoided of {prompt} ({avoided/prompt:.0%} of all prompt tokens)")
    finally:
        server.stop()
    report["shared_prefix"] = {"share_of_shared_prefill_avoided": med([s["share_avoided"] for s in shared]),
                               "share_of_all_prefill_avoided": med([s["avoided"] / s["prompt_tokens"] for s in shared])}
    print("shared prefix (600-word prompts, 540 shared, 4 clients)\n")
    table(["share of shared prefill avoided", "share of all prefill avoided", "target"],
          [[f"{report['shared_prefix']['share_of_shared_prefill_avoided']:.1%}",
            f"{report['shared_prefix']['share_of_all_prefill_avoided']:.1%}", ">= 90% of shared"]])

    # 3. Overload: 10x the concurrency the server runs, with a bounded waiting room. Admission
    # refuses a request predicted to wait more than 50 ms for a slot (about one decode step
    # of a full batch here), so what it admits starts about as fast as at concurrency 8.
    log("overload: 8 clients, then 80")
    server = Server(a.model, a.threads, ["--max-running", "8", "--max-waiting", "8", "--max-queue-wait-ms", "50",
                                         "--ctx", "1024", "--max-tokens-limit", "128"])
    over = []
    try:
        for rep in range(a.repeats):
            n8 = max(8, int(32 * scale))
            normal = loadgen(server.url, 8, n8, 68, 64)
            rss_normal = server.rss_mb()
            heavy = loadgen(server.url, 80, max(80, int(400 * scale)), 68, 64)
            over.append({"normal_ttft_p99_ms": normal["ttft_ms"]["p99"], "overload_ttft_p99_ms": heavy["ttft_ms"]["p99"],
                         "rejected": heavy["statuses"].get("429", 0), "sent": heavy["sent"],
                         "rss_normal_mb": rss_normal, "rss_overload_mb": server.rss_mb()})
            log(f"  run {rep+1}: TTFT p99 {normal['ttft_ms']['p99']:.0f} -> {heavy['ttft_ms']['p99']:.0f} ms, "
                f"{over[-1]['rejected']}/{heavy['sent']} refused with 429")
        peak = server.peak_rss_mb()
    finally:
        server.stop()
    o = {k: med([x[k] for x in over]) for k in over[0]}
    o["peak_rss_mb"] = peak
    o["ttft_p99_ratio"] = o["overload_ttft_p99_ms"] / o["normal_ttft_p99_ms"] if o["normal_ttft_p99_ms"] else float("nan")
    report["overload"] = o
    print("10x overload (8 running, at most 8 waiting and 50 ms predicted wait; 8 clients, then 80)\n")
    table(["TTFT p99 at 8", "TTFT p99 at 80 (admitted)", "ratio", "target", "429s", "RSS at 8", "RSS at 80", "peak RSS"],
          [[f"{o['normal_ttft_p99_ms']:.0f} ms", f"{o['overload_ttft_p99_ms']:.0f} ms", f"{o['ttft_p99_ratio']:.2f}x", "<= 2x",
            f"{o['rejected']:.0f}/{o['sent']:.0f}", f"{o['rss_normal_mb']:.0f} MB", f"{o['rss_overload_mb']:.0f} MB",
            f"{o['peak_rss_mb']:.0f} MB"]])

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(a.out, f"serve-{stamp}.json"), "w") as f:
        json.dump(report, f, indent=2)
    svg_chart(os.path.join(a.out, f"serve-{stamp}.svg"), f"Aggregate tokens/s, {report['model']}, {a.threads} threads",
              {"keel serve": [(c, s["tokens_per_s"]) for c, s in sweep.items()],
               PEER["name"]: list(PEER["tokens_per_s"].items())}, "concurrent clients", "generated tokens/s")
    log(f"wrote {a.out}/serve-{stamp}.json and .svg")


if __name__ == "__main__":
    main()
