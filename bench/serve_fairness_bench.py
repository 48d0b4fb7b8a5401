#!/usr/bin/python3
"""Speed and memory figures of `keel serve` under overload and between tenants, as ratios
measured in one run. These used to be pass marks inside tests/apps/serve_test.cpp; the tests now
check the behaviour (429 with Retry-After, every admitted request completes, the calm tenant is
served between the flood's requests) and this script prints how fast and how flat:

  1. overload: the server admits 4 running and 8 waiting; 8 clients (normal load), then 80 (ten
     times). Admitted TTFT p99 under overload / TTFT p99 under normal load, and the server's RSS
     growth from the first to the second (MB and ratio).
  2. fairness: tenant "flood" sends 40 requests at once to a server with 2 slots; once at least
     20 of them wait (read from /metrics), tenant "calm" sends 4, one after another. Calm TTFT
     p95 / flood TTFT p50 (below 1: the calm tenant waits for a slot, not for the flood), and
     how many flood requests were unfinished when the calm tenant was done.

Each workload runs --repeats times on a fresh server and reports medians and every run (the
machine is shared and noisy). Prints tables; writes JSON into --out (default bench/results/).

  bench/serve_fairness_bench.py [--model FILE] [--threads N] [--repeats 3] [--only overload|fairness]
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from keel_server_probe import process_memory_mb, prometheus_samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.path.join(ROOT, "build", "keel")


def log(msg):
    print(f"[serve-fairness-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def until(reached, timeout_s=60, interval_s=0.01):
    """Polls `reached` (a state of the server) until it holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        if reached():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)


class Server:
    def __init__(self, model, threads, extra):
        args = [KEEL, "serve", "--model", model, "--port", "0"] + extra
        if threads:
            args += ["--threads", str(threads)]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.url is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
        if self.url is None:
            raise SystemExit("keel serve did not start")

        def ready():
            try:
                return urllib.request.urlopen(self.url + "/readyz", timeout=2).status == 200
            except Exception:
                return False
        if not until(ready):
            raise SystemExit("keel serve did not become ready")

    def metrics(self):
        return prometheus_samples(self.url)

    def rss_mb(self):
        return process_memory_mb(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def loadgen_args(url, concurrency, requests, prompt, max_tokens, api_key=None):
    args = [KEEL, "loadgen", "--url", url, "-c", str(concurrency), "-n", str(requests),
            "--prompt-tokens", str(prompt), "--max-tokens", str(max_tokens), "--json"]
    if api_key:
        args += ["--api-key", api_key]
    return args


def loadgen(*args, **kwargs):
    r = subprocess.run(loadgen_args(*args, **kwargs), capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"keel loadgen failed: {r.stderr}")
    return json.loads(r.stdout)


def med(values):
    return statistics.median(values) if values else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print()


def overload_once(a):
    server = Server(a.model, a.threads, ["--max-running", "4", "--max-waiting", "8"])
    try:
        loadgen(server.url, 2, 4, 32, 16)  # warm-up: first-touch costs are not the normal load's
        normal = loadgen(server.url, 8, 32, 32, 16)
        rss_normal = server.rss_mb()
        heavy = loadgen(server.url, 80, 400, 32, 16)  # ten times the load
        rss_overload = server.rss_mb()
    finally:
        server.stop()
    return {"normal_ttft_p99_ms": normal["ttft_ms"]["p99"],
            "overload_ttft_p99_ms": heavy["ttft_ms"]["p99"],
            "ttft_p99_ratio": ratio(heavy["ttft_ms"]["p99"], normal["ttft_ms"]["p99"]),
            "admitted": heavy["statuses"].get("200", 0), "refused": heavy["statuses"].get("429", 0),
            "sent": heavy["sent"],
            "rss_normal_mb": rss_normal, "rss_overload_mb": rss_overload,
            "rss_growth_mb": rss_overload - rss_normal, "rss_ratio": ratio(rss_overload, rss_normal)}


def overload_workload(a, report):
    log("overload: 4 running + 8 waiting; 8 clients, then 80")
    runs = [overload_once(a) for _ in range(a.repeats)]
    o = {k: med([r[k] for r in runs]) for k in runs[0]}
    o["runs"] = runs
    report["overload"] = o
    print("10x overload (4 running, at most 8 waiting; 8 clients x 32 requests, then 80 x 400; "
          f"median of {a.repeats})\n")
    table(["TTFT p99 normal", "TTFT p99 admitted, 10x", "ratio", "refused (429)", "RSS normal", "RSS 10x",
           "RSS growth"],
          [[f"{o['normal_ttft_p99_ms']:.1f} ms", f"{o['overload_ttft_p99_ms']:.1f} ms", f"{o['ttft_p99_ratio']:.2f}x",
            f"{o['refused']:.0f}/{o['sent']:.0f}", f"{o['rss_normal_mb']:.1f} MB", f"{o['rss_overload_mb']:.1f} MB",
            f"{o['rss_growth_mb']:+.1f} MB ({o['rss_ratio']:.3f}x)"]])


def fairness_once(a, keys_file):
    server = Server(a.model, a.threads, ["--api-keys", keys_file, "--max-running", "2", "--max-waiting", "500",
                                         "--max-queued-tokens", "1000000"])
    try:
        flood = subprocess.Popen(loadgen_args(server.url, 40, 40, 16, 48, api_key="k-flood"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        queued = until(lambda: server.metrics().get("keel_requests_waiting", 0) >= 20, timeout_s=60, interval_s=0.002)
        calm = loadgen(server.url, 1, 4, 16, 8, api_key="k-calm")
        at_calm_done = server.metrics()
        out, err = flood.communicate(timeout=900)
        if flood.returncode != 0:
            raise SystemExit(f"keel loadgen (flood) failed: {err}")
        flood_report = json.loads(out)
    finally:
        server.stop()
    if not queued:
        raise SystemExit("the flood never had 20 requests waiting")
    finished = at_calm_done.get('keel_requests_total{status="200",tenant="flood"}', 0)
    return {"calm_ttft_p95_ms": calm["ttft_ms"]["p95"], "flood_ttft_p50_ms": flood_report["ttft_ms"]["p50"],
            "calm_p95_over_flood_p50": ratio(calm["ttft_ms"]["p95"], flood_report["ttft_ms"]["p50"]),
            "calm_completed": calm["completed"], "flood_completed": flood_report["completed"],
            "flood_unfinished_when_calm_done": 40 - finished}


def fairness_workload(a, report):
    log("fairness: a 40-request flood on 2 slots, then a calm tenant's 4 requests")
    with tempfile.TemporaryDirectory() as d:
        keys = os.path.join(d, "keys.yaml")
        with open(keys, "w") as f:
            f.write("tenants:\n")
            for tenant, key in (("flood", "k-flood"), ("calm", "k-calm")):
                f.write(f"  - id: {tenant}\n    keys_sha256: [{hashlib.sha256(key.encode()).hexdigest()}]\n")
        runs = [fairness_once(a, keys) for _ in range(a.repeats)]
    o = {k: med([r[k] for r in runs]) for k in runs[0]}
    o["runs"] = runs
    report["fairness"] = o
    print(f"Tenant fairness (2 slots; 40 flood requests queued, then 4 calm ones in turn; median of {a.repeats})\n")
    table(["calm TTFT p95", "flood TTFT p50", "calm p95 / flood p50", "flood unfinished when calm done"],
          [[f"{o['calm_ttft_p95_ms']:.1f} ms", f"{o['flood_ttft_p50_ms']:.1f} ms",
            f"{o['calm_p95_over_flood_p50']:.2f}x", f"{o['flood_unfinished_when_calm_done']:.0f} of 40"]])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "keel-tiny-chat.gguf"))
    ap.add_argument("--threads", type=int, default=0, help="engine threads (0: keel serve's default)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["overload", "fairness"], action="append")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    if not os.path.exists(KEEL):
        raise SystemExit(f"{KEEL} is missing: build it first (cmake --build build --target keel)")
    report = {"model": a.model, "threads": a.threads, "repeats": a.repeats,
              "date": datetime.datetime.now().isoformat(timespec="seconds")}
    workloads = a.only or ["overload", "fairness"]
    if "overload" in workloads:
        overload_workload(a, report)
    if "fairness" in workloads:
        fairness_workload(a, report)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"serve-fairness-{datetime.datetime.now():%Y%m%d-%H%M%S}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
