#!/usr/bin/python3
"""Benchmarks `keel serve` with `keel loadgen` on this machine, three workloads:

  1. concurrency sweep (1/4/8/16 clients, 68-word prompts, 128 tokens each): aggregate generated
     tokens/s and TTFT, against llama.cpp measured in the same run on the same model and threads.
     The peer is an engine-level one: bench/peers/llama_batched.mjs drives llama.cpp's batched
     engine (node-llama-cpp's prebuilt CPU build, one context with min(clients, 8) sequences,
     as many closed-loop clients as keel loadgen runs), with no HTTP, JSON or SSE on its side;
     rounds alternate between the peer and keel, and each figure is the median of the rounds;
     then a scaling check (both with 1 thread, once) says whether an engine was held up by its
     threads;
  2. shared prefix (a long common system prompt): the share of the shared prefill avoided;
  3. 10x overload: rejections, TTFT p99 of admitted requests against concurrency 8, peak RSS.

Each workload runs --repeats times and reports medians (the machine is shared and noisy).
Prints tables; writes JSON and SVG charts into --out (default bench/results/).

  bench/serve_bench.py [--model FILE] [--threads 2] [--repeats 3] [--quick] [--no-peer]
                       [--clients 1,4,8,16] [--only sweep|prefix|overload]
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

from keel_server_probe import process_memory_mb, prometheus_samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.path.join(ROOT, "build", "keel")
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
import llama_peer  # noqa: E402


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
        return prometheus_samples(self.url)

    def peak_rss_mb(self):
        return process_memory_mb(self.proc.pid, "VmHWM")

    def rss_mb(self):
        return process_memory_mb(self.proc.pid)

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


def summarize_runs(runs):
    done = sum(r["completed"] for r in runs)
    return {"tokens_per_s": med([r["tokens_per_s"] for r in runs]),
            "ttft_p50_ms": med([r["ttft_ms"]["p50"] for r in runs]),
            "ttft_p99_ms": med([r["ttft_ms"]["p99"] for r in runs]),
            "tpot_p50_ms": med([r["tpot_ms"]["p50"] for r in runs]),
            "prompt_tokens_per_request": sum(r["prompt_tokens"] for r in runs) / max(done, 1),
            "generated_tokens_per_request": sum(r["generated_tokens"] for r in runs) / max(done, 1),
            "others_cpu_share": med([r["others_cpu_share"] for r in runs]),
            "runs": runs}


def sweep_workload(a, scale, report):
    """Concurrency sweep, keel serve against llama.cpp's batched engine, alternating rounds."""
    log(f"concurrency sweep on {report['model']}, {a.threads} threads"
        + ("" if a.no_peer else ", against llama.cpp's batched engine (engine-level peer)"))
    server = Server(a.model, a.threads, ["--max-running", "8", "--ctx", "1024", "--max-waiting", "64",
                                         "--max-tokens-limit", "128"])
    sweep = {}
    try:
        loadgen(server.url, 2, 4, 68, 16)  # warm-up
        for c in a.clients:
            n = max(4, int(max(8, 4 * c) * scale))
            keel_runs, peer_runs, prompt_tokens = [], [], None
            for rep in range(a.repeats):
                # Keel first in the first round: the peer's prompts get the length Keel's had.
                order = ["keel", "peer"] if rep % 2 == 0 else ["peer", "keel"]
                for who in order:
                    if who == "peer" and a.no_peer:
                        continue
                    other = llama_peer.OtherLoad([server.proc.pid])
                    if who == "keel":
                        r = loadgen(server.url, c, n, 68, 128)
                        prompt_tokens = prompt_tokens or round(r["prompt_tokens"] / max(r["completed"], 1))
                        r["others_cpu_share"] = other.share()
                        keel_runs.append(r)
                    else:
                        try:
                            r = llama_peer.run("llama_batched.mjs", [
                                "-m", a.model, "-t", a.threads, "--clients", c, "--slots", min(c, 8),
                                "--requests", n, "--prompt-tokens", prompt_tokens, "--max-tokens", 128,
                                "--temperature", 0.7])
                        except llama_peer.PeerUnavailable as e:
                            raise SystemExit(f"serve_bench: the llama.cpp peer failed: {e}\n"
                                             f"(--no-peer measures keel serve alone, without a ratio)")
                        r["others_cpu_share"] = other.share()
                        peer_runs.append(r)
                        report["peer"].update(r["peer"])
                    log(f"  c={c} round {rep+1}/{a.repeats} {'keel serve' if who == 'keel' else 'llama.cpp ':10}: "
                        f"{r['tokens_per_s']:.0f} tokens/s, TTFT p50 {r['ttft_ms']['p50']:.0f} ms, "
                        f"p99 {r['ttft_ms']['p99']:.0f} ms, others' CPU {r['others_cpu_share']:.0%}")
            sweep[c] = {"requests": n, "keel": summarize_runs(keel_runs)}
            if peer_runs:
                sweep[c]["llama_cpp"] = summarize_runs(peer_runs)
                sweep[c]["tokens_per_s_ratio"] = sweep[c]["keel"]["tokens_per_s"] / sweep[c]["llama_cpp"]["tokens_per_s"]
                sweep[c]["ttft_p99_ratio"] = sweep[c]["keel"]["ttft_p99_ms"] / sweep[c]["llama_cpp"]["ttft_p99_ms"]
    finally:
        server.stop()
    report["concurrency"] = sweep
    scaling = scaling_check(a, scale, sweep) if a.threads > 1 else None
    print(f"\nkeel serve (HTTP, 8 slots) against llama.cpp's batched engine (engine-level peer: no HTTP; "
          f"min(clients, 8) sequences in one context), {report['model']}, {a.threads} threads, ~68-token prompts, "
          f"128 tokens each; median of {a.repeats} alternating rounds, this machine, this run")
    if report["peer"]:
        print(f"llama.cpp: {llama_peer.describe(report['peer'])}")
    print()
    rows = []
    for c, s in sweep.items():
        k, p = s["keel"], s.get("llama_cpp")
        f = (lambda key, fmt: format(p[key], fmt) if p else "not run")
        rows.append([c, s["requests"], f"{k['tokens_per_s']:.0f}", f("tokens_per_s", ".0f"),
                     f"{s['tokens_per_s_ratio']:.2f}x" if p else "-",
                     f"{k['ttft_p50_ms']:.0f}", f("ttft_p50_ms", ".0f"), f"{k['ttft_p99_ms']:.0f}", f("ttft_p99_ms", ".0f"),
                     f"{s['ttft_p99_ratio']:.2f}x" if p else "-", f"{k['tpot_p50_ms']:.1f}", f("tpot_p50_ms", ".1f"),
                     f"{k['prompt_tokens_per_request']:.0f}+{k['generated_tokens_per_request']:.0f}",
                     f"{p['prompt_tokens_per_request']:.0f}+{p['generated_tokens_per_request']:.0f}" if p else "-",
                     f"{max(k['others_cpu_share'], p['others_cpu_share'] if p else 0):.0%}"])
    table(["clients", "requests", "tokens/s Keel", "llama.cpp", "Keel/llama.cpp", "TTFT p50 ms Keel", "llama.cpp",
           "TTFT p99 ms Keel", "llama.cpp", "Keel/llama.cpp", "TPOT p50 ms Keel", "llama.cpp",
           "tokens/request Keel", "llama.cpp", "others' CPU"], rows)
    print("Keel's TTFT is measured by keel loadgen over HTTP (request sent to first streamed token); llama.cpp's from\n"
          "when a client issues the request to when its first token is chosen. others' CPU: the share of all cores\n"
          "other processes used during the runs (median, the larger of the two engines'). llama.cpp's figures\n"
          "include node-llama-cpp's costs per step (a JavaScript dispatch and a libuv worker thread for each decode\n"
          "and each sampling; ggml starts its helper threads anew for each decode); on small models these weigh.\n")
    if scaling:
        c = scaling["clients"]
        line = (f"scaling check at {c} clients, tokens/s with 1 thread -> {a.threads} (one run each): "
                f"Keel {scaling['keel']:.0f} -> {sweep[c]['keel']['tokens_per_s']:.0f}")
        if "llama_cpp" in scaling:
            line += f", llama.cpp {scaling['llama_cpp']:.0f} -> {sweep[c]['llama_cpp']['tokens_per_s']:.0f}"
            if scaling["llama_cpp"] > sweep[c]["llama_cpp"]["tokens_per_s"]:
                line += (f"\n  llama.cpp is faster with 1 thread than with {a.threads}: its threads were held up (see "
                         f"bench/engine_bench.py), so its figures above understate its engine")
        print(line + "\n")
    busiest = max([r["others_cpu_share"] for s in sweep.values() for e in ("keel", "llama_cpp") if e in s
                   for r in s[e]["runs"]] + [0])
    if busiest > 0.1:
        print(f"warning: other processes used up to {busiest:.0%} of the cores during these runs; llama.cpp's spinning "
              f"thread barrier loses far more to such competition than Keel's thread pool: rerun on a quiet machine "
              f"before reading the ratios as engine speed.\n")
    sys.stdout.flush()


def scaling_check(a, scale, sweep):
    """Aggregate tokens/s with 1 thread at the largest swept concurrency up to 8, once per engine:
    an engine faster with 1 thread than with --threads is held up by how its threads meet."""
    c = max([x for x in sweep if x <= 8] or [min(sweep)])
    n, out = sweep[c]["requests"], {"clients": c}
    log(f"scaling check: {c} clients with 1 thread")
    server = Server(a.model, 1, ["--max-running", "8", "--ctx", "1024", "--max-waiting", "64",
                                 "--max-tokens-limit", "128"])
    try:
        loadgen(server.url, 2, 4, 68, 16)  # warm-up
        out["keel"] = loadgen(server.url, c, n, 68, 128)["tokens_per_s"]
    finally:
        server.stop()
    if "llama_cpp" in sweep[c]:
        prompt = round(sweep[c]["keel"]["prompt_tokens_per_request"])
        try:
            out["llama_cpp"] = llama_peer.run("llama_batched.mjs", [
                "-m", a.model, "-t", 1, "--clients", c, "--slots", min(c, 8), "--requests", n,
                "--prompt-tokens", prompt, "--max-tokens", 128, "--temperature", 0.7])["tokens_per_s"]
        except llama_peer.PeerUnavailable as e:
            raise SystemExit(f"serve_bench: the llama.cpp peer failed with 1 thread: {e}")
    sweep[c]["one_thread_tokens_per_s"] = {k: v for k, v in out.items() if k != "clients"}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "fixtures", "small-random-288x6-Q8_0.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    ap.add_argument("--clients", type=lambda v: [int(x) for x in v.split(",")], default=[1, 4, 8, 16],
                    help="concurrencies of the sweep, e.g. 1,4,8,16 (the default)")
    ap.add_argument("--no-peer", action="store_true", help="keel serve alone in the sweep (no ratio)")
    ap.add_argument("--only", choices=["sweep", "prefix", "overload"], action="append",
                    help="run only these workloads (repeatable; default: all)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    if not os.path.exists(KEEL):
        raise SystemExit("build keel first: tools/setup.sh")
    a.model = os.path.abspath(a.model)
    workloads = a.only or ["sweep", "prefix", "overload"]
    os.makedirs(a.out, exist_ok=True)
    scale = 0.25 if a.quick else 1.0
    report = {"model": os.path.basename(a.model), "threads": a.threads, "repeats": a.repeats,
              "date": datetime.datetime.now().isoformat(timespec="seconds"), "peer": {}}
    if "sweep" in workloads and not a.no_peer:
        try:
            llama_peer.ensure_installed(log)
        except llama_peer.PeerUnavailable as e:
            raise SystemExit(f"serve_bench: {e}\n(--no-peer measures keel serve alone, without a ratio)")
        report["peer"].update(llama_peer.ggml_build())

    # 1. Concurrency sweep: 8 slots, 68-token prompts, 128 tokens, against the peer.
    if "sweep" in workloads:
        sweep_workload(a, scale, report)
    if "prefix" in workloads:
        prefix_workload(a, scale, report)
    if "overload" in workloads:
        overload_workload(a, scale, report)
    write_results(a, report)


def prefix_workload(a, scale, report):
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


def overload_workload(a, scale, report):
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



def write_results(a, report):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(a.out, f"serve-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump(report, f, indent=2)
    written = [base + ".json"]
    sweep = report.get("concurrency")
    if sweep:
        peer = "llama.cpp batched engine (no HTTP)"
        subtitle = f"{report['model']}, {a.threads} threads, same run"
        for suffix, key, title, y_label in (("", "tokens_per_s", "Aggregate generated tokens/s", "generated tokens/s"),
                                            ("-ttft", "ttft_p99_ms", "Time to first token, p99", "ms")):
            series = {"keel serve (HTTP)": [(c, s["keel"][key]) for c, s in sweep.items()]}
            if any("llama_cpp" in s for s in sweep.values()):
                series[peer] = [(c, s["llama_cpp"][key]) for c, s in sweep.items() if "llama_cpp" in s]
            svg_chart(base + suffix + ".svg", f"{title}, {subtitle}", series, "concurrent clients", y_label)
            written.append(base + suffix + ".svg")
    log("wrote " + ", ".join(os.path.relpath(w, ROOT) for w in written))


if __name__ == "__main__":
    main()
